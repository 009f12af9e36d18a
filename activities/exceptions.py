"""Activities that expire compliance exceptions: one at its timer, and every overdue one as the cycle's safety net."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from temporalio import activity

from workflows.types import ExpireExceptionInput, ExpireExceptionOutcome, OverdueExceptionsExpired

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


class ExceptionActivities:
    def __init__(self, sessionmaker: async_sessionmaker):
        self.sessionmaker = sessionmaker

    @activity.defn(name="expire_exception")
    async def expire_exception(self, params: ExpireExceptionInput) -> ExpireExceptionOutcome:
        """Expire one exception if it is still active and its expires_at has passed; otherwise say where it stands.

        "Passed" is judged by the later of the database clock and the workflow's clock when its timer fired.
        """
        exception_id = uuid.UUID(params.exception_id)
        async with self.sessionmaker() as session, session.begin():
            expired = await session.scalar(
                text(_EXPIRE_AND_AUDIT.format(condition="id = :id AND expires_at <= greatest(:as_of, now())")),
                {"id": exception_id, "as_of": datetime.fromisoformat(params.as_of), "actor": SYSTEM_ACTOR,
                 "via": "timer"},
            )
            if expired is not None:
                return ExpireExceptionOutcome(expired=True, status="expired", expires_at=None)
            row = (await session.execute(
                text("SELECT status, expires_at FROM compliance_exceptions WHERE id = :id"), {"id": exception_id}
            )).first()
        if row is None:
            return ExpireExceptionOutcome(expired=False, status=None, expires_at=None)
        return ExpireExceptionOutcome(expired=False, status=row.status,
                                      expires_at=row.expires_at.isoformat() if row.expires_at else None)

    @activity.defn(name="expire_overdue_exceptions")
    async def expire_overdue_exceptions(self) -> OverdueExceptionsExpired:
        """Safety net of every scan cycle: expire each active exception whose expiry passed, in one statement."""
        async with self.sessionmaker() as session, session.begin():
            expired = (await session.scalars(
                text(_EXPIRE_AND_AUDIT.format(condition="expires_at <= now()")),
                {"actor": SYSTEM_ACTOR, "via": "scan_cycle"},
            )).all()
        return OverdueExceptionsExpired(expired=len(expired))
