"""Change records: remediations that wait for CAB approval, and the approve / reject decisions that release them."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from sqlalchemy import select

from api.audit import audit
from api.deps import MANAGE, VIEW, CurrentUser, Page, Principal, SessionDep, paginate
from api.errors import Conflict, NotFound
from api.routes.hosts import org_filter
from api.schemas.remediation import ChangeDecision, ChangeOut, ChangeStatus, RejectDecision
from models import ChangeRecord, Remediation
from workflows.remediation import RemediationWorkflow, remediation_workflow_id
from workflows.remediation_types import Decision

log = logging.getLogger(__name__)
router = APIRouter(prefix="/changes", tags=["remediation"])
SIGNAL_TIMEOUT = 10


async def load_change(session, principal: Principal, change_id: uuid.UUID, permission: str,
                      *, lock: bool = False) -> ChangeRecord:
    stmt = select(ChangeRecord).where(ChangeRecord.id == change_id)
    change = await session.scalar(stmt.with_for_update() if lock else stmt)
    if change is None:
        raise NotFound("change")
    principal.require(change.org_id, permission, "change")
    return change


@router.get("", response_model=list[ChangeOut])
async def list_changes(
    principal: CurrentUser, session: SessionDep, page: Page, response: Response,
    status: ChangeStatus | None = None, host_id: uuid.UUID | None = None, org_id: uuid.UUID | None = None,
):
    stmt = select(ChangeRecord).order_by(ChangeRecord.created_at.desc(), ChangeRecord.id)
    if (scope := org_filter(principal, ChangeRecord.org_id, org_id)) is not None:
        stmt = stmt.where(scope)
    if status is not None:
        stmt = stmt.where(ChangeRecord.status == status)
    if host_id is not None:
        stmt = stmt.where(ChangeRecord.host_id == host_id)
    return await paginate(session, stmt, page, response)


@router.get("/{change_id}", response_model=ChangeOut)
async def get_change(change_id: uuid.UUID, principal: CurrentUser, session: SessionDep):
    return await load_change(session, principal, change_id, VIEW)


async def _decide(request: Request, principal: Principal, change_id: uuid.UUID, status: str,
                  reason: str | None) -> ChangeOut:
    """The decision is committed first; the workflow is signalled after. If the signal is lost, the decision
    stands and the scan cycle's safety net signals it again."""
    async with request.app.state.sessionmaker() as session, session.begin():
        change = await load_change(session, principal, change_id, MANAGE, lock=True)
        if change.status != "pending_approval":
            raise Conflict(f"the change is {change.status}; only a change pending approval can be decided")
        before = ChangeOut.model_validate(change)
        change.status, change.reason = status, reason
        change.decided_by, change.decided_at = principal.id, datetime.now(UTC)
        await session.flush()
        out = ChangeOut.model_validate(change)
        audit(session, principal, f"change.{'approve' if status == 'approved' else 'reject'}", "change", change.id,
              change.org_id, before=before, after=out)
        workflow_id = await session.scalar(select(Remediation.workflow_id).where(
            Remediation.id == change.remediation_id)) or remediation_workflow_id(str(change.scan_id),
                                                                                 str(change.check_id))
    signal = RemediationWorkflow.approve if status == "approved" else RemediationWorkflow.reject
    try:
        client = await request.app.state.temporal.get(timeout=3)
        handle = client.get_workflow_handle(workflow_id)
        await asyncio.wait_for(handle.signal(signal, Decision(decided_by=str(principal.id), reason=reason)),
                               SIGNAL_TIMEOUT)
    except Exception as exc:
        log.warning("change %s %s but signalling %s failed (%s); the scan cycle will re-signal", change_id, status,
                    workflow_id, exc)
    return out


@router.post("/{change_id}/approve", response_model=ChangeOut)
async def approve_change(change_id: uuid.UUID, principal: CurrentUser, request: Request,
                         body: ChangeDecision | None = None):
    return await _decide(request, principal, change_id, "approved", body.reason if body else None)


@router.post("/{change_id}/reject", response_model=ChangeOut)
async def reject_change(change_id: uuid.UUID, body: RejectDecision, principal: CurrentUser, request: Request):
    return await _decide(request, principal, change_id, "rejected", body.reason)
