"""Compliance exceptions: their expiry, by timer or by the scan cycle's sweep (each audited in the same statement)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

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
        return ExpiryState(expired=True, status="expired", expires_at=None)
    row = (await session.execute(
        text("SELECT status, expires_at FROM compliance_exceptions WHERE id = :id"), {"id": exception_id}
    )).first()
    if row is None:
        return ExpiryState(expired=False, status=None, expires_at=None)
    return ExpiryState(expired=False, status=row.status, expires_at=row.expires_at)


async def expire_overdue(session: AsyncSession) -> int:
    """Expire every active exception whose expiry passed, in one statement."""
    expired = (await session.scalars(
        text(_EXPIRE_AND_AUDIT.format(condition="expires_at <= now()")),
        {"actor": SYSTEM_ACTOR, "via": "scan_cycle"},
    )).all()
    return len(expired)
