"""Compliance exceptions: request, second-person decision, change, revocation, and expiry by timer or by the
scan cycle's sweep. Shared by the API and the expiry activities."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from domain.errors import Conflict, Forbidden, NotFound, Unprocessable
from models import ComplianceCheck, ComplianceException, ComplianceTemplate, Host, HostGroup, User

SELF_APPROVAL = "an exception must be approved by someone other than its creator"
SELF_EXTENSION = "an exception's expiry must be extended by someone other than its creator"
SELF_REASON = "an approved exception's reason must be changed by someone other than its creator"
REVOCABLE = ("pending_approval", "active")

_creator, _approver, _rejecter = aliased(User), aliased(User), aliased(User)


def with_names() -> Select:
    """Each exception with the names a reader needs (host, group, creator, approver, rejecter), in one query."""
    return (
        select(ComplianceException, Host.hostname, HostGroup.name, _creator.username, _approver.username,
               _rejecter.username)
        .outerjoin(Host, Host.id == ComplianceException.host_id)
        .outerjoin(HostGroup, HostGroup.id == ComplianceException.host_group_id)
        .outerjoin(_creator, _creator.id == ComplianceException.created_by)
        .outerjoin(_approver, _approver.id == ComplianceException.approved_by)
        .outerjoin(_rejecter, _rejecter.id == ComplianceException.rejected_by)
    )


async def one_with_names(session: AsyncSession, exception_id: uuid.UUID):
    return (await session.execute(with_names().where(ComplianceException.id == exception_id))).one()


async def request(session: AsyncSession, org_id: uuid.UUID, rule_id: str, host_id: uuid.UUID | None,
                  host_group_id: uuid.UUID | None, reason: str, expires_at: datetime | None,
                  created_by: uuid.UUID) -> ComplianceException:
    """A new exception waits for a second person's approval; until then it waives nothing. The host or group must
    be in the exception's organization, and the rule a check the organization can run."""
    if host_id is not None:
        if await session.scalar(select(Host.org_id).where(Host.id == host_id)) != org_id:
            raise NotFound("host")
    if host_group_id is not None:
        if await session.scalar(select(HostGroup.org_id).where(HostGroup.id == host_group_id)) != org_id:
            raise NotFound("host group")
    known_rule = await session.scalar(
        select(ComplianceCheck.id).join(ComplianceTemplate, ComplianceTemplate.id == ComplianceCheck.template_id)
        .where(ComplianceCheck.rule_id == rule_id,
               or_(ComplianceTemplate.is_system, ComplianceTemplate.org_id == org_id))
        .limit(1)
    )
    if known_rule is None:
        raise Unprocessable([{"loc": ["body", "rule_id"], "type": "unknown_rule",
                              "msg": f"no check with rule id {rule_id!r} in the organization's templates"}])
    exception = ComplianceException(org_id=org_id, rule_id=rule_id, host_id=host_id, host_group_id=host_group_id,
                                    reason=reason, expires_at=expires_at, status="pending_approval",
                                    created_by=created_by)
    session.add(exception)
    await session.flush()
    return exception


def _require_decidable(exception: ComplianceException, decider: uuid.UUID) -> None:
    if exception.created_by == decider:
        raise Forbidden(SELF_APPROVAL)
    if exception.status != "pending_approval":
        raise Conflict(f"only a pending exception can be decided; this one is {exception.status}")


async def approve(session: AsyncSession, exception: ComplianceException, decider: uuid.UUID, reason: str | None,
                  now: datetime) -> None:
    _require_decidable(exception, decider)
    if exception.expires_at is not None and exception.expires_at <= now:
        raise Conflict("the exception's expiry has passed while it waited for approval; request a new one")
    exception.status, exception.approved_by, exception.approved_at = "active", decider, now
    exception.decided_at, exception.decision_reason = now, reason
    await session.flush()
    await rescore(session, [exception.id])


async def reject(session: AsyncSession, exception: ComplianceException, decider: uuid.UUID,
                 reason: str | None, now: datetime) -> None:
    _require_decidable(exception, decider)
    exception.status, exception.rejected_by, exception.decided_at = "rejected", decider, now
    exception.decision_reason = reason
    await session.flush()


def _extends(old: datetime | None, new: datetime | None) -> bool:
    return old is not None and (new is None or new > old)


async def change(session: AsyncSession, exception: ComplianceException, changes: dict[str, Any],
                 actor: uuid.UUID) -> tuple[dict[str, Any], bool]:
    """Apply `changes` to an active exception; returns what actually changed and whether its expiry moved."""
    if exception.status != "active":
        raise Conflict(f"only an active exception can be changed; this one is {exception.status}")
    # Otherwise a creator could, alone, turn a briefly approved waiver into a permanent one, or rewrite the
    # justification a second person approved. Shortening a waiver needs no second pair of eyes.
    if exception.created_by == actor:
        if "expires_at" in changes and _extends(exception.expires_at, changes["expires_at"]):
            raise Forbidden(SELF_EXTENSION)
        if "reason" in changes and changes["reason"] != exception.reason:
            raise Forbidden(SELF_REASON)
    expiry_moved = "expires_at" in changes and changes["expires_at"] != exception.expires_at
    changed = {key: value for key, value in changes.items() if getattr(exception, key) != value}
    for key, value in changed.items():
        setattr(exception, key, value)
    await session.flush()
    return changed, expiry_moved


async def revoke(session: AsyncSession, exception: ComplianceException) -> bool:
    """Soft delete: the record stays, revoked, for the audit trail; a pending request is withdrawn the same way.
    Returns whether an expiry timer was running for it."""
    if exception.status not in REVOCABLE:
        raise Conflict(f"the exception is already {exception.status}")
    was_active = exception.status == "active"
    exception.status = "revoked"
    await session.flush()
    if was_active:
        await rescore(session, [exception.id])
    return was_active and exception.expires_at is not None

SYSTEM_ACTOR = "exception-expiry"

# Both expiries write their audit rows in the same statement as the status change, so neither exists alone.
_EXPIRE_AND_AUDIT = """
WITH expired AS (
    UPDATE compliance_exceptions SET status = 'expired', updated_at = now()
    WHERE status = 'active' AND expires_at IS NOT NULL AND {condition}
    RETURNING id, org_id, rule_id, host_id, host_group_id, expires_at
)
INSERT INTO audit_log (org_id, actor_type, actor_name, action, target_type, target_id, before, after, created_at)
SELECT org_id, 'system', CAST(:actor AS text), 'exception.expire', 'exception', id::text,
       jsonb_build_object('status', 'active'),
       jsonb_build_object('status', 'expired', 'rule_id', rule_id, 'host_id', host_id,
                          'host_group_id', host_group_id, 'expires_at', expires_at, 'via', CAST(:via AS text)),
       now()
FROM expired
RETURNING target_id
"""


@dataclass
class ExpiryState:
    expired: bool
    status: str | None  # None: the exception no longer exists
    expires_at: datetime | None


async def expire_one(session: AsyncSession, exception_id: uuid.UUID, as_of: datetime) -> ExpiryState:
    """Expire the exception if it is still active and its expires_at has passed; otherwise say where it stands.

    "Passed" is judged by the later of the database clock and `as_of` (the workflow's clock when its timer fired).
    """
    expired = await session.scalar(
        text(_EXPIRE_AND_AUDIT.format(condition="id = :id AND expires_at <= greatest(:as_of, now())")),
        {"id": exception_id, "as_of": as_of, "actor": SYSTEM_ACTOR, "via": "timer"},
    )
    if expired is not None:
        await rescore(session, [exception_id])
        return ExpiryState(expired=True, status="expired", expires_at=None)
    row = (await session.execute(
        text("SELECT status, expires_at FROM compliance_exceptions WHERE id = :id"), {"id": exception_id}
    )).first()
    if row is None:
        return ExpiryState(expired=False, status=None, expires_at=None)
    return ExpiryState(expired=False, status=row.status, expires_at=row.expires_at)


async def expire_overdue(session: AsyncSession) -> int:
    """Expire every active exception whose expiry passed, in one statement, and rescore what they covered."""
    expired = (await session.scalars(
        text(_EXPIRE_AND_AUDIT.format(condition="expires_at <= now()")),
        {"actor": SYSTEM_ACTOR, "via": "scan_cycle"},
    )).all()
    await rescore(session, [uuid.UUID(i) for i in expired])
    return len(expired)


# The most specific live exception of the rule that covers the state's host (host, then group, then the whole
# organization; the smallest id among equals): domain.exceptions.find_waiver, as SQL.
_RESCORE_STATES = """
WITH touched AS (
    SELECT DISTINCT org_id, rule_id FROM compliance_exceptions WHERE id = ANY(:ids)
),
judged AS (
    SELECT cs.host_id, cs.policy_id, cs.check_id, cs.exception_id AS was, (
        SELECT e.id FROM compliance_exceptions e
        WHERE e.org_id = cs.org_id AND e.rule_id = cs.rule_id AND e.status = 'active'
          AND (e.expires_at IS NULL OR e.expires_at > now())
          AND (e.host_id = cs.host_id
               OR e.host_group_id IN (SELECT m.group_id FROM host_group_members m WHERE m.host_id = cs.host_id)
               OR (e.host_id IS NULL AND e.host_group_id IS NULL))
        ORDER BY CASE WHEN e.host_id IS NOT NULL THEN 0 WHEN e.host_group_id IS NOT NULL THEN 1 ELSE 2 END, e.id
        LIMIT 1
    ) AS waiver
    FROM check_states cs
    JOIN touched t ON t.org_id = cs.org_id AND t.rule_id = cs.rule_id
    WHERE cs.status IN ('fail', 'waived')
)
UPDATE check_states cs
SET status = CASE WHEN j.waiver IS NULL THEN 'fail' ELSE 'waived' END, exception_id = j.waiver
FROM judged j
WHERE cs.host_id = j.host_id AND cs.policy_id = j.policy_id AND cs.check_id = j.check_id
  AND j.was IS DISTINCT FROM j.waiver
RETURNING cs.host_id, cs.policy_id
"""

# Counts and score (domain.scoring.compute_score, rounded half away from zero) from the states just rewritten.
_RESCORE_STATUS = """
UPDATE host_policy_status h
SET total = c.total, passed = c.passed, failed = c.failed, errors = c.errors, skipped = c.skipped,
    waived = c.waived,
    score = CASE WHEN c.total - c.skipped - c.errors - c.waived > 0
                 THEN round(CAST(c.passed * 100 AS numeric) / (c.total - c.skipped - c.errors - c.waived), 2) END
FROM (
    SELECT cs.host_id, cs.policy_id, count(*) AS total,
           count(*) FILTER (WHERE cs.status = 'pass') AS passed, count(*) FILTER (WHERE cs.status = 'fail') AS failed,
           count(*) FILTER (WHERE cs.status = 'error') AS errors,
           count(*) FILTER (WHERE cs.status = 'skip') AS skipped,
           count(*) FILTER (WHERE cs.status = 'waived') AS waived
    FROM check_states cs
    JOIN unnest(CAST(:hosts AS uuid[]), CAST(:policies AS uuid[])) AS p(host_id, policy_id)
      ON cs.host_id = p.host_id AND cs.policy_id = p.policy_id
    GROUP BY cs.host_id, cs.policy_id
) c
WHERE h.host_id = c.host_id AND h.policy_id = c.policy_id
"""


async def rescore(session: AsyncSession, exception_ids: list[uuid.UUID]) -> int:
    """After exceptions became active, were revoked or expired: re-judge the latest state of every check of their
    rules in their organizations, and recount the current scores of the hosts whose states changed.

    Set-based, in the transaction that changed the exceptions. Past scans keep the results they had; only the
    latest state and the current score follow the exceptions. Returns how many host+policy scores were recounted.
    """
    if not exception_ids:
        return 0
    changed = (await session.execute(text(_RESCORE_STATES), {"ids": exception_ids})).all()
    pairs = sorted(set(changed))
    if pairs:
        await session.execute(text(_RESCORE_STATUS), {"hosts": [h for h, _ in pairs],
                                                      "policies": [p for _, p in pairs]})
    return len(pairs)
