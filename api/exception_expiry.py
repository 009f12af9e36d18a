"""Arms, moves and stops an exception's ExceptionExpiryWorkflow from the API, after the change is committed.

Every call here is best effort: a timer that never started or missed a signal is caught by the scan cycle's
`expire_overdue_exceptions` safety net, and the workflow re-reads the database before expiring anything.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from api.deps import TemporalConnector
from config import Settings
from workflows import search_attributes as sa
from workflows.exception_expiry import ExceptionExpiryWorkflow
from workflows.types import ExpiryInput, ExpiryReschedule, ExpiryRevoke

log = logging.getLogger(__name__)


def expiry_workflow_id(exception_id: uuid.UUID | str) -> str:
    return f"exception-expiry-{exception_id}"


@dataclass
class ExpiryTimer:
    exception_id: uuid.UUID
    org_id: uuid.UUID
    rule_id: str
    host_id: uuid.UUID | None
    expires_at: datetime | None

    @classmethod
    def of(cls, exception) -> ExpiryTimer:
        return cls(exception.id, exception.org_id, exception.rule_id, exception.host_id, exception.expires_at)

    def attributes(self, settings: Settings) -> TypedSearchAttributes | None:
        # Servers without the custom attributes registered (the time-skipping test server) refuse them.
        if not settings.temporal_search_attributes:
            return None
        pairs = [SearchAttributePair(sa.ORG_ID, str(self.org_id))]
        if self.host_id is not None:
            pairs.append(SearchAttributePair(sa.HOST_ID, str(self.host_id)))
        return TypedSearchAttributes(pairs)


class ExpiryTimers:
    def __init__(self, temporal: TemporalConnector, settings: Settings):
        self._temporal = temporal
        self._settings = settings

    async def arm(self, timer: ExpiryTimer) -> None:
        """Start the timer; a retried approval finds the one already running."""
        await self._best_effort(timer, self._start, timer, None)

    async def move(self, timer: ExpiryTimer) -> None:
        """Re-arm a running timer to the new expiry, or start one if none runs (the exception had no expiry)."""
        await self._best_effort(timer, self._start, timer, "reschedule")

    async def clear(self, timer: ExpiryTimer) -> None:
        """The exception no longer expires: the timer ends without expiring it."""
        await self._best_effort(timer, self._signal, timer, "reschedule", ExpiryReschedule(expires_at=None))

    async def revoke(self, timer: ExpiryTimer) -> None:
        await self._best_effort(timer, self._signal, timer, "revoke", ExpiryRevoke())

    async def _start(self, client: Client, timer: ExpiryTimer, signal: str | None) -> None:
        assert timer.expires_at is not None
        expires_at = timer.expires_at.isoformat()
        await client.start_workflow(
            ExceptionExpiryWorkflow.run,
            ExpiryInput(exception_id=str(timer.exception_id), expires_at=expires_at),
            id=expiry_workflow_id(timer.exception_id),
            task_queue=self._settings.temporal_task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            start_signal=signal,
            start_signal_args=[ExpiryReschedule(expires_at=expires_at)] if signal else [],
            search_attributes=timer.attributes(self._settings),
            static_summary=f"Expiry of exception {timer.rule_id} at {expires_at}",
        )

    async def _signal(self, client: Client, timer: ExpiryTimer, signal: str, argument) -> None:
        try:
            await client.get_workflow_handle(expiry_workflow_id(timer.exception_id)).signal(signal, argument)
        except RPCError as err:
            # No timer running (never armed, or already finished): nothing to stop.
            if err.status != RPCStatusCode.NOT_FOUND:
                raise

    async def _best_effort(self, timer: ExpiryTimer, call, *args) -> None:
        try:
            await call(await self._temporal.get(), *args)
        except Exception:
            log.exception("expiry timer of exception %s not updated; the scan cycle's safety net covers it",
                          timer.exception_id)
