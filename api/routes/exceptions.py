"""Compliance exceptions: request, second-person approval or rejection, change, revoke, and the reads."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, Response

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
from api.schemas.exceptions import (
    ExceptionCreate,
    ExceptionDecision,
    ExceptionOut,
    ExceptionStatus,
    ExceptionUpdate,
)
from models import ComplianceException
from orchestration.gateway import ExpiryTimer
from services import exceptions

router = APIRouter(prefix="/compliance/exceptions", tags=["exceptions"])


def exception_out(row) -> ExceptionOut:
    exception, *names = row
    out = ExceptionOut.model_validate(exception)
    (out.hostname, out.host_group_name, out.created_by_name, out.approved_by_name,
     out.rejected_by_name) = names
    return out


async def read_one(session, exception_id: uuid.UUID) -> ExceptionOut:
    return exception_out(await exceptions.one_with_names(session, exception_id))


def expiry_timer(exception: ComplianceException) -> ExpiryTimer:
    return ExpiryTimer(str(exception.id), str(exception.org_id), exception.rule_id,
                       str(exception.host_id) if exception.host_id else None, exception.expires_at)


async def load(session, principal, exception_id: uuid.UUID) -> ComplianceException:
    return await get_or_404(session, principal, ComplianceException, exception_id, MANAGE, "exception", lock=True)


@router.get("", response_model=list[ExceptionOut])
async def list_exceptions(
    principal: CurrentUser, session: SessionDep, page: Page, response: Response,
    org_id: uuid.UUID | None = None, status: ExceptionStatus | None = None, host_id: uuid.UUID | None = None,
    host_group_id: uuid.UUID | None = None, rule_id: str | None = None,
):
    stmt = exceptions.with_names().order_by(ComplianceException.created_at.desc(), ComplianceException.id)
    stmt = stmt.where(tenant_scope(principal, ComplianceException.org_id, org_id))
    for column, value in ((ComplianceException.status, status), (ComplianceException.host_id, host_id),
                          (ComplianceException.host_group_id, host_group_id), (ComplianceException.rule_id, rule_id)):
        if value is not None:
            stmt = stmt.where(column == value)
    return [exception_out(row) for row in await paginate(session, stmt, page, response, rows=True)]


@router.get("/{exception_id}", response_model=ExceptionOut)
async def get_exception(exception_id: uuid.UUID, principal: CurrentUser, session: SessionDep):
    await get_or_404(session, principal, ComplianceException, exception_id, VIEW, "exception")
    return await read_one(session, exception_id)


@router.post("", response_model=ExceptionOut, status_code=201)
async def create_exception(body: ExceptionCreate, principal: CurrentUser, session: SessionDep):
    """A new exception waits for a second person's approval; until then it waives nothing."""
    principal.require(body.org_id, MANAGE, "organization")
    exception = await exceptions.request(session, body.org_id, body.rule_id, body.host_id, body.host_group_id,
                                         body.reason, body.expires_at, principal.id)
    out = await read_one(session, exception.id)
    audit(session, principal, "exception.create", "exception", exception.id, exception.org_id, after=out)
    return out


@router.post("/{exception_id}/approve", response_model=ExceptionOut)
async def approve_exception(exception_id: uuid.UUID, principal: CurrentUser, session: SessionDep,
                            gateway: GatewayDep, after_commit: AfterCommitDep, body: ExceptionDecision | None = None):
    exception = await load(session, principal, exception_id)
    before = await read_one(session, exception.id)
    await exceptions.approve(session, exception, principal.id, body.reason if body else None, datetime.now(UTC))
    out = await read_one(session, exception.id)
    audit(session, principal, "exception.approve", "exception", exception.id, exception.org_id,
          before=before, after=out)
    if exception.expires_at is not None:
        timer = expiry_timer(exception)
        after_commit.add(lambda: gateway.arm_expiry(timer), f"the expiry timer of exception {exception.id}")
    return out


@router.post("/{exception_id}/reject", response_model=ExceptionOut)
async def reject_exception(exception_id: uuid.UUID, principal: CurrentUser, session: SessionDep,
                           body: ExceptionDecision | None = None):
    exception = await load(session, principal, exception_id)
    before = await read_one(session, exception.id)
    await exceptions.reject(session, exception, principal.id, body.reason if body else None, datetime.now(UTC))
    out = await read_one(session, exception.id)
    audit(session, principal, "exception.reject", "exception", exception.id, exception.org_id,
          before=before, after=out)
    return out


@router.patch("/{exception_id}", response_model=ExceptionOut)
async def update_exception(exception_id: uuid.UUID, body: ExceptionUpdate, principal: CurrentUser,
                           session: SessionDep, gateway: GatewayDep, after_commit: AfterCommitDep):
    exception = await load(session, principal, exception_id)
    before = await read_one(session, exception.id)
    changed, expiry_moved = await exceptions.change(session, exception, body.changes(), principal.id)
    out = await read_one(session, exception.id)
    if changed:
        audit(session, principal, "exception.update", "exception", exception.id, exception.org_id,
              before=before, after=out)
    if expiry_moved:
        timer = expiry_timer(exception)
        move = gateway.move_expiry if timer.expires_at is not None else gateway.clear_expiry
        after_commit.add(lambda: move(timer), f"the expiry timer of exception {exception.id}")
    return out


@router.delete("/{exception_id}", response_model=ExceptionOut)
async def revoke_exception(exception_id: uuid.UUID, principal: CurrentUser, session: SessionDep,
                           gateway: GatewayDep, after_commit: AfterCommitDep):
    """Soft delete: the record stays, revoked, for the audit trail; a pending request is withdrawn the same way."""
    exception = await load(session, principal, exception_id)
    before = await read_one(session, exception.id)
    timer_running = await exceptions.revoke(session, exception)
    out = await read_one(session, exception.id)
    audit(session, principal, "exception.revoke", "exception", exception.id, exception.org_id,
          before=before, after=out)
    if timer_running:
        timer = expiry_timer(exception)
        after_commit.add(lambda: gateway.revoke_expiry(timer), f"the expiry timer of exception {exception.id}")
    return out
