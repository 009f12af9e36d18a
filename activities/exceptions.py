"""Activities that expire compliance exceptions: one at its timer, and every overdue one as the cycle's safety net."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import async_sessionmaker
from temporalio import activity

from orchestration.types import ExpireExceptionInput, ExpireExceptionOutcome, OverdueExceptionsExpired
from services import exceptions


class ExceptionActivities:
    def __init__(self, sessionmaker: async_sessionmaker):
        self.sessionmaker = sessionmaker

    @activity.defn(name="expire_exception")
    async def expire_exception(self, params: ExpireExceptionInput) -> ExpireExceptionOutcome:
        async with self.sessionmaker() as session, session.begin():
            state = await exceptions.expire_one(session, uuid.UUID(params.exception_id),
                                                datetime.fromisoformat(params.as_of))
        return ExpireExceptionOutcome(expired=state.expired, status=state.status,
                                      expires_at=state.expires_at.isoformat() if state.expires_at else None)

    @activity.defn(name="expire_overdue_exceptions")
    async def expire_overdue_exceptions(self) -> OverdueExceptionsExpired:
        async with self.sessionmaker() as session, session.begin():
            return OverdueExceptionsExpired(expired=await exceptions.expire_overdue(session))
