"""One-click fix of a failed check from a scan result, and remediation reads."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response
from sqlalchemy import select

from api.audit import audit
from api.deps import (
    MANAGE,
    VIEW,
    AfterCommitDep,
    CurrentUser,
    GatewayDep,
    Page,
    SessionDep,
    get_or_404,
    paginate,
    tenant_scope,
)
from api.schemas.remediation import ChangeOut, FixOut, RemediationOut
from models import ComplianceScan, Remediation
from services.remediation import change_of, request_fix, start_of

router = APIRouter(prefix="/compliance", tags=["remediation"])


@router.post("/scans/{scan_id}/checks/{check_id}/fix", response_model=FixOut, status_code=202)
async def fix_check(scan_id: uuid.UUID, check_id: uuid.UUID, principal: CurrentUser, session: SessionDep,
                    gateway: GatewayDep, after_commit: AfterCommitDep):
    """Start a manual remediation; it ignores the kill switch but still needs approval when the policy or check
    asks for a change record. A remediation held back by the kill switch is re-armed as this manual one; any
    other existing remediation of the same scan and check is a conflict (its id is in the detail)."""
    scan = await get_or_404(session, principal, ComplianceScan, scan_id, MANAGE, "scan")
    remediation, change = await request_fix(session, scan, check_id, principal.id)
    out = FixOut(remediation=RemediationOut.model_validate(remediation),
                 change=ChangeOut.model_validate(change) if change else None)
    audit(session, principal, "remediation.fix", "remediation", remediation.id, scan.org_id, after=out)
    start = start_of(remediation)
    after_commit.add(lambda: gateway.start_remediation(start, "manual",
                                                       f"One-click fix of {remediation.rule_id} on scan {scan_id}"),
                     f"remediation {remediation.id}")
    return out


@router.get("/remediations", response_model=list[RemediationOut])
async def list_remediations(
    principal: CurrentUser, session: SessionDep, page: Page, response: Response,
    org_id: uuid.UUID | None = None, host_id: uuid.UUID | None = None, scan_id: uuid.UUID | None = None,
    status: str | None = None,
):
    stmt = select(Remediation).order_by(Remediation.created_at.desc(), Remediation.id)
    stmt = stmt.where(tenant_scope(principal, Remediation.org_id, org_id))
    for column, value in ((Remediation.host_id, host_id), (Remediation.scan_id, scan_id),
                          (Remediation.status, status)):
        if value is not None:
            stmt = stmt.where(column == value)
    return await paginate(session, stmt, page, response)


@router.get("/remediations/{remediation_id}", response_model=FixOut)
async def get_remediation(remediation_id: uuid.UUID, principal: CurrentUser, session: SessionDep):
    remediation = await get_or_404(session, principal, Remediation, remediation_id, VIEW, "remediation")
    change = await change_of(session, remediation.id)
    return FixOut(remediation=RemediationOut.model_validate(remediation),
                  change=ChangeOut.model_validate(change) if change else None)
