"""ExceptionExpiryWorkflow: a durable timer to an exception's expires_at that a signal can move or stop."""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.exceptions import ExceptionActivities
    from orchestration import ids
    from orchestration.types import ExpireExceptionInput, ExpiryInput, ExpiryReschedule, ExpiryResult, ExpiryRevoke
    from workflows import retries


def _parse(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


@workflow.defn(name=ids.EXCEPTION_EXPIRY_WORKFLOW)
class ExceptionExpiryWorkflow:
    @workflow.init
    def __init__(self, params: ExpiryInput) -> None:
        # Set from the input here, not in run(): a signal delivered with the start is handled before run() begins.
        self._expires_at = _parse(params.expires_at)
        self._changed = False
        self._revoked = False

    @workflow.run
    async def run(self, params: ExpiryInput) -> ExpiryResult:
        while True:
            if self._revoked:
                return ExpiryResult(params.exception_id, "revoked")
            if self._expires_at is None:
                return ExpiryResult(params.exception_id, "cleared")
            self._changed = False
            remaining = self._expires_at - workflow.now()
            if remaining > timedelta(0):
                try:
                    await workflow.wait_condition(lambda: self._changed or self._revoked, timeout=remaining)
                    continue
                except TimeoutError:  # asyncio.TimeoutError since Python 3.11
                    pass
            outcome = await workflow.execute_activity_method(
                ExceptionActivities.expire_exception,
                ExpireExceptionInput(exception_id=params.exception_id, as_of=workflow.now().isoformat()),
                start_to_close_timeout=timedelta(seconds=30), retry_policy=retries.EXPIRY,
            )
            if outcome.expired:
                return ExpiryResult(params.exception_id, "expired")
            if outcome.status != "active":
                return ExpiryResult(params.exception_id, "no_longer_active")
            # Still active with a later (or no) expiry: a reschedule signal was lost; the database is the truth.
            self._expires_at = _parse(outcome.expires_at)

    @workflow.signal(name=ids.RESCHEDULE)
    def reschedule(self, change: ExpiryReschedule) -> None:
        self._expires_at = _parse(change.expires_at)
        self._changed = True

    @workflow.signal(name=ids.REVOKE)
    def revoke(self, _: ExpiryRevoke) -> None:
        self._revoked = True
