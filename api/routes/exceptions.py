"""Compliance exceptions: request, second-person approval or rejection, change, revoke, and the reads."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, Response
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import aliased

from api.audit import audit
from api.deps import (
    MANAGE,
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
from api.errors import Conflict, Forbidden, NotFound, Unprocessable
from api.schemas.exceptions import (
    ExceptionCreate,
    ExceptionDecision,
    ExceptionOut,
    ExceptionStatus,
    ExceptionUpdate,
)
from models import ComplianceCheck, ComplianceException, ComplianceTemplate, Host, HostGroup, User
from orchestration.gateway import ExpiryTimer

router = APIRouter(prefix="/compliance/exceptions", tags=["exceptions"])

SELF_APPROVAL = "an exception must be approved by someone other than its creator"
SELF_EXTENSION = "an exception's expiry must be extended by someone other than its creator"
REVOCABLE = ("pending_approval", "active")

_creator, _approver = aliased(User), aliased(User)


def enriched() -> Select:
    """Each exception with the names a reader needs, in one query."""
    return (
        select(ComplianceException, Host.hostname, HostGroup.name, _creator.username, _approver.username)
        .outerjoin(Host, Host.id == ComplianceException.host_id)
        .outerjoin(HostGroup, HostGroup.id == ComplianceException.host_group_id)
        .outerjoin(_creator, _creator.id == ComplianceException.created_by)
        .outerjoin(_approver, _approver.id == ComplianceException.approved_by)
    )


def exception_out(row) -> ExceptionOut:
    exception, hostname, group_name, created_by_name, approved_by_name = row
    out = ExceptionOut.model_validate(exception)
    out.hostname, out.host_group_name = hostname, group_name
    out.created_by_name, out.approved_by_name = created_by_name, approved_by_name
    return out


async def read_one(session, exception_id: uuid.UUID) -> ExceptionOut:
    return exception_out((await session.execute(enriched().where(ComplianceException.id == exception_id))).one())


def expiry_timer(exception: ComplianceException) -> ExpiryTimer:
    return ExpiryTimer(str(exception.id), str(exception.org_id), exception.rule_id,
                       str(exception.host_id) if exception.host_id else None, exception.expires_at)


def _invalid(field: str, msg: str, kind: str) -> Unprocessable:
    return Unprocessable([{"loc": ["body", field], "msg": msg, "type": kind}])


async def _check_scope(session, body: ExceptionCreate) -> None:
    """The host or group must be in the exception's organization, and the rule a check the organization can run."""
    if body.host_id is not None:
        if await session.scalar(select(Host.org_id).where(Host.id == body.host_id)) != body.org_id:
            raise NotFound("host")
    if body.host_group_id is not None:
        if await session.scalar(select(HostGroup.org_id).where(HostGroup.id == body.host_group_id)) != body.org_id:
            raise NotFound("host group")
    known_rule = await session.scalar(
        select(ComplianceCheck.id).join(ComplianceTemplate, ComplianceTemplate.id == ComplianceCheck.template_id)
        .where(ComplianceCheck.rule_id == body.rule_id,
               or_(ComplianceTemplate.is_system, ComplianceTemplate.org_id == body.org_id))
        .limit(1)
    )
    if known_rule is None:
        raise _invalid("rule_id", f"no check with rule id {body.rule_id!r} in the organization's templates",
                       "unknown_rule")


def _require_pending(exception: ComplianceException, principal: Principal) -> None:
    if exception.created_by == principal.id:
        raise Forbidden(SELF_APPROVAL)
    if exception.status != "pending_approval":
        raise Conflict(f"only a pending exception can be decided; this one is {exception.status}")


def _extends(old: datetime | None, new: datetime | None) -> bool:
    return old is not None and (new is None or new > old)


@router.get("", response_model=list[ExceptionOut])
async def list_exceptions(
    principal: CurrentUser, session: SessionDep, page: Page, response: Response,
    org_id: uuid.UUID | None = None, status: ExceptionStatus | None = None, host_id: uuid.UUID | None = None,
    host_group_id: uuid.UUID | None = None, rule_id: str | None = None,
):
    stmt = enriched().order_by(ComplianceException.created_at.desc(), ComplianceException.id)
    scope = tenant_scope(principal, ComplianceException.org_id, org_id)
    if scope is not None:
        stmt = stmt.where(scope)
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
    await _check_scope(session, body)
    exception = ComplianceException(
        org_id=body.org_id, rule_id=body.rule_id, host_id=body.host_id, host_group_id=body.host_group_id,
        reason=body.reason, expires_at=body.expires_at, status="pending_approval", created_by=principal.id,
    )
    session.add(exception)
    await session.flush()
    out = await read_one(session, exception.id)
    audit(session, principal, "exception.create", "exception", exception.id, exception.org_id, after=out)
    return out


@router.post("/{exception_id}/approve", response_model=ExceptionOut)
async def approve_exception(exception_id: uuid.UUID, principal: CurrentUser, session: SessionDep,
                            gateway: GatewayDep, after_commit: AfterCommitDep, body: ExceptionDecision | None = None):
    exception = await get_or_404(session, principal, ComplianceException, exception_id, MANAGE, "exception", lock=True)
    _require_pending(exception, principal)
    now = datetime.now(UTC)
    if exception.expires_at is not None and exception.expires_at <= now:
        raise Conflict("the exception's expiry has passed while it waited for approval; request a new one")
    before = await read_one(session, exception.id)
    exception.status, exception.approved_by, exception.approved_at = "active", principal.id, now
    exception.decision_reason = body.reason if body else None
    await session.flush()
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
    exception = await get_or_404(session, principal, ComplianceException, exception_id, MANAGE, "exception", lock=True)
    _require_pending(exception, principal)
    before = await read_one(session, exception.id)
    exception.status, exception.decision_reason = "rejected", body.reason if body else None
    await session.flush()
    out = await read_one(session, exception.id)
    audit(session, principal, "exception.reject", "exception", exception.id, exception.org_id,
          before=before, after=out)
    return out


@router.patch("/{exception_id}", response_model=ExceptionOut)
async def update_exception(exception_id: uuid.UUID, body: ExceptionUpdate, principal: CurrentUser,
                           session: SessionDep, gateway: GatewayDep, after_commit: AfterCommitDep):
    changes = body.changes()
    exception = await get_or_404(session, principal, ComplianceException, exception_id, MANAGE, "exception", lock=True)
    if exception.status != "active":
        raise Conflict(f"only an active exception can be changed; this one is {exception.status}")
    # Otherwise a creator could, alone, turn a briefly approved waiver into a permanent one.
    extends = "expires_at" in changes and _extends(exception.expires_at, changes["expires_at"])
    if extends and exception.created_by == principal.id:
        raise Forbidden(SELF_EXTENSION)
    before = await read_one(session, exception.id)
    expiry_moved = "expires_at" in changes and changes["expires_at"] != exception.expires_at
    changes = {key: value for key, value in changes.items() if getattr(exception, key) != value}
    for key, value in changes.items():
        setattr(exception, key, value)
    await session.flush()
    out = await read_one(session, exception.id)
    if changes:
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
    exception = await get_or_404(session, principal, ComplianceException, exception_id, MANAGE, "exception", lock=True)
    if exception.status not in REVOCABLE:
        raise Conflict(f"the exception is already {exception.status}")
    timer_running = exception.status == "active" and exception.expires_at is not None
    before = await read_one(session, exception.id)
    exception.status = "revoked"
    await session.flush()
    out = await read_one(session, exception.id)
    audit(session, principal, "exception.revoke", "exception", exception.id, exception.org_id,
          before=before, after=out)
    if timer_running:
        timer = expiry_timer(exception)
        after_commit.add(lambda: gateway.revoke_expiry(timer), f"the expiry timer of exception {exception.id}")
    return out
