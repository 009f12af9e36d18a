"""One-click fix of a failed check from a scan result, and remediation reads."""

from __future__ import annotations

import logging
import uuid

from fastapi import APIRouter, Request, Response
from sqlalchemy import select

from activities.remediation_store import change_of, ensure_change_record, load_context, needs_approval, show_on_scan
from api.audit import audit
from api.deps import MANAGE, VIEW, CurrentUser, Page, SessionDep, paginate
from api.errors import BadRequest, Conflict, NotFound
from api.routes.hosts import org_filter
from api.schemas.remediation import ChangeOut, FixOut, RemediationOut
from models import ComplianceCheck, ComplianceScan, Remediation, ScanCheckResult
from workflows.remediation import remediation_workflow_id
from workflows.remediation_starts import remediation_input, start_remediation

log = logging.getLogger(__name__)
router = APIRouter(prefix="/compliance", tags=["remediation"])


@router.post("/scans/{scan_id}/checks/{check_id}/fix", response_model=FixOut, status_code=202)
async def fix_check(scan_id: uuid.UUID, check_id: uuid.UUID, principal: CurrentUser, request: Request):
    """Start a manual remediation; it ignores the kill switch but still needs approval when the policy or check
    asks for a change record. A remediation held back by the kill switch is re-armed as this manual one; any
    other existing remediation of the same scan and check is a conflict (its id is in the detail)."""
    settings = request.app.state.settings
    async with request.app.state.sessionmaker() as session, session.begin():
        scan = await session.get(ComplianceScan, scan_id)
        if scan is None:
            raise NotFound("scan")
        principal.require(scan.org_id, MANAGE, "scan")
        result = await session.get(ScanCheckResult, (scan_id, check_id))
        check = await session.get(ComplianceCheck, check_id)
        if result is None or check is None:
            raise NotFound("check result")
        if check.remediation_type not in ("script", "workflow"):
            raise BadRequest(f"check {check.rule_id} has no automated fix (remediation_type {check.remediation_type})")
        if result.status != "fail":
            raise Conflict(f"check {check.rule_id} did not fail in this scan (status {result.status})")
        remediation = await session.scalar(select(Remediation).where(
            Remediation.scan_id == scan_id, Remediation.check_id == check_id).with_for_update())
        if remediation is not None and not (remediation.status == "skipped" and remediation.outcome is None):
            raise Conflict({"message": f"a remediation of this check already exists ({remediation.status})",
                            "remediation_id": str(remediation.id)})
        if remediation is None:
            remediation = Remediation(org_id=scan.org_id, host_id=scan.host_id, policy_id=scan.policy_id,
                                      scan_id=scan.id, check_id=check.id, rule_id=check.rule_id,
                                      workflow_id=remediation_workflow_id(str(scan.id), str(check.id)))
            session.add(remediation)
        remediation.trigger, remediation.status, remediation.reason = "manual", "planned", None
        remediation.requested_by = principal.id
        await session.flush()
        ctx = await load_context(session, remediation.id)
        change = None
        if needs_approval(ctx.policy, check):
            change = await ensure_change_record(session, ctx)
            remediation.status = "pending_approval"
        await show_on_scan(session, remediation, change)
        out = FixOut(remediation=RemediationOut.model_validate(remediation),
                     change=ChangeOut.model_validate(change) if change else None)
        audit(session, principal, "remediation.fix", "remediation", remediation.id, scan.org_id, after=out)
        started = remediation_input(remediation, settings)
    try:
        client = await request.app.state.temporal.get()
        await start_remediation(client, settings, started, f"One-click fix of {check.rule_id} on scan {scan_id}")
    except Exception:
        log.exception("remediation %s recorded but its workflow did not start; the scan cycle will start it",
                      remediation.id)
    return out


@router.get("/remediations", response_model=list[RemediationOut])
async def list_remediations(
    principal: CurrentUser, session: SessionDep, page: Page, response: Response,
    org_id: uuid.UUID | None = None, host_id: uuid.UUID | None = None, scan_id: uuid.UUID | None = None,
    status: str | None = None,
):
    stmt = select(Remediation).order_by(Remediation.created_at.desc(), Remediation.id)
    if (scope := org_filter(principal, Remediation.org_id, org_id)) is not None:
        stmt = stmt.where(scope)
    for column, value in ((Remediation.host_id, host_id), (Remediation.scan_id, scan_id),
                          (Remediation.status, status)):
        if value is not None:
            stmt = stmt.where(column == value)
    return await paginate(session, stmt, page, response)


@router.get("/remediations/{remediation_id}", response_model=FixOut)
async def get_remediation(remediation_id: uuid.UUID, principal: CurrentUser, session: SessionDep):
    remediation = await session.get(Remediation, remediation_id)
    if remediation is None:
        raise NotFound("remediation")
    principal.require(remediation.org_id, VIEW, "remediation")
    change = await change_of(session, remediation.id)
    return FixOut(remediation=RemediationOut.model_validate(remediation),
                  change=ChangeOut.model_validate(change) if change else None)
