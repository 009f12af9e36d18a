"""Change records: remediations that wait for CAB approval, and the approve / reject decisions that release them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, Response
from sqlalchemy import select

from api.audit import audit
from api.deps import (
    APPROVE_CHANGES,
    VIEW,
    AfterCommitDep,
    CurrentUser,
    GatewayDep,
    Page,
    Principal,
    SessionDep,
    get_or_404,
    paginate,
    tenant_scope,
)
from api.schemas.remediation import ChangeDecision, ChangeOut, ChangeStatus, RejectDecision
from models import ChangeRecord
from services.remediation import decide_change

router = APIRouter(prefix="/changes", tags=["remediation"])


@router.get("", response_model=list[ChangeOut])
async def list_changes(
    principal: CurrentUser, session: SessionDep, page: Page, response: Response,
    status: ChangeStatus | None = None, host_id: uuid.UUID | None = None, org_id: uuid.UUID | None = None,
):
    stmt = select(ChangeRecord).order_by(ChangeRecord.created_at.desc(), ChangeRecord.id)
    stmt = stmt.where(tenant_scope(principal, ChangeRecord.org_id, org_id))
    if status is not None:
        stmt = stmt.where(ChangeRecord.status == status)
    if host_id is not None:
        stmt = stmt.where(ChangeRecord.host_id == host_id)
    return await paginate(session, stmt, page, response)


@router.get("/{change_id}", response_model=ChangeOut)
async def get_change(change_id: uuid.UUID, principal: CurrentUser, session: SessionDep):
    return await get_or_404(session, principal, ChangeRecord, change_id, VIEW, "change")


async def _decide(session, principal: Principal, gateway, after_commit, change_id: uuid.UUID, status: str,
                  reason: str | None) -> ChangeOut:
    """The decision is committed first; the workflow is signalled after. If the signal is lost, the decision
    stands and the scan cycle's safety net signals it again."""
    change = await get_or_404(session, principal, ChangeRecord, change_id, APPROVE_CHANGES, "change", lock=True)
    before = ChangeOut.model_validate(change)
    workflow_id = await decide_change(session, change, principal.id, status == "approved", reason, datetime.now(UTC))
    out = ChangeOut.model_validate(change)
    audit(session, principal, f"change.{'approve' if status == 'approved' else 'reject'}", "change", change.id,
          change.org_id, before=before, after=out)
    after_commit.add(lambda: gateway.signal_change_decision(workflow_id, status == "approved"),
                     f"the {status} decision on change {change_id}")
    return out


@router.post("/{change_id}/approve", response_model=ChangeOut)
async def approve_change(change_id: uuid.UUID, principal: CurrentUser, session: SessionDep, gateway: GatewayDep,
                         after_commit: AfterCommitDep, body: ChangeDecision | None = None):
    return await _decide(session, principal, gateway, after_commit, change_id, "approved",
                         body.reason if body else None)


@router.post("/{change_id}/reject", response_model=ChangeOut)
async def reject_change(change_id: uuid.UUID, body: RejectDecision, principal: CurrentUser, session: SessionDep,
                        gateway: GatewayDep, after_commit: AfterCommitDep):
    return await _decide(session, principal, gateway, after_commit, change_id, "rejected", body.reason)
