"""Activities of ScanBatchWorkflow: open jobs, wait for agents (async completion), record results."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from config import Settings
from observability import worker_metrics
from orchestration.gateway import TemporalGateway
from orchestration.types import AwaitJobInput, JobDone, OpenBatchInput, OpenedBatch, RecordInput, RecordOutcome
from services import webhooks
from services.scans import answered_scans, open_jobs, record_batch


class TokenRegistrar:
    """Hangs activity task tokens on their agent jobs, many per transaction.

    A tick starts tens of thousands of agent waits within seconds; one transaction (and WAL flush) each made the
    worker and the database the bottleneck. Registrations arriving within `window` seconds share one UPDATE, and
    each caller still returns only after its own token is committed.
    """

    def __init__(self, sessionmaker: async_sessionmaker, window: float = 0.02):
        self.sessionmaker = sessionmaker
        self.window = window
        self._pending: list[tuple[uuid.UUID, bytes, asyncio.Future]] = []
        self._flush: asyncio.Task | None = None

    async def register(self, job_id: uuid.UUID, token: bytes) -> str | None:
        """The job's status once the token is stored, or None when the job does not exist."""
        future = asyncio.get_running_loop().create_future()
        self._pending.append((job_id, token, future))
        if self._flush is None:
            self._flush = asyncio.create_task(self._flush_after_window())
        return await future

    async def _flush_after_window(self) -> None:
        await asyncio.sleep(self.window)
        batch, self._pending, self._flush = self._pending, [], None
        batch.sort(key=lambda item: item[0])  # one lock order for every flush
        try:
            async with self.sessionmaker() as session, session.begin():
                rows = await session.execute(text("""
                    UPDATE agent_jobs j SET task_token = n.token, updated_at = now()
                    FROM unnest(CAST(:ids AS uuid[]), CAST(:tokens AS bytea[])) AS n(id, token)
                    WHERE j.id = n.id
                    RETURNING j.id, j.status
                """), {"ids": [job_id for job_id, _, _ in batch], "tokens": [token for _, token, _ in batch]})
                statuses = dict(rows.all())
        except Exception as exc:  # every waiting activity fails and is retried by Temporal
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for job_id, _, future in batch:
            if not future.done():
                future.set_result(statuses.get(job_id))


class ScanActivities:
    def __init__(self, sessionmaker: async_sessionmaker, settings: Settings, gateway: TemporalGateway | None = None):
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.gateway = gateway  # None: nothing is sent to webhooks (recording driven directly, in tests)
        self.tokens = TokenRegistrar(sessionmaker)

    @activity.defn(name="open_scan_batch")
    async def open_scan_batch(self, params: OpenBatchInput) -> OpenedBatch:
        async with self.sessionmaker() as session, session.begin():
            refs = await open_jobs(session, params.batch_id)
        return OpenedBatch(scan_ids=[str(scan_id) for scan_id, _, _ in refs],
                           job_ids=[str(job_id) for _, job_id, _ in refs])

    @activity.defn(name="await_agent_result")
    async def await_agent_result(self, params: AwaitJobInput) -> JobDone:
        """Hang the task token on the job; the API completes this activity when the agent answers."""
        status = await self.tokens.register(uuid.UUID(params.job_id), activity.info().task_token)
        if status is None:
            raise ApplicationError(f"job {params.job_id} does not exist", type="JobClosed", non_retryable=True)
        if status == "completed":
            return JobDone(job_id=params.job_id, status=status)
        if status in ("timed_out", "cancelled"):
            raise ApplicationError(f"job {params.job_id} is {status}", type="JobClosed", non_retryable=True)
        activity.raise_complete_async()

    @activity.defn(name="record_scan_results")
    async def record_scan_results(self, params: RecordInput) -> RecordOutcome:
        """Score and store a micro-batch, raise its notifications, alerts and incidents, and plan its
        remediations, in one transaction.

        Webhook deliveries start inside that transaction, keyed by deterministic event ids: a crash after the
        commit cannot lose one, and a retried recording joins the workflows the first attempt started.
        """
        completed = [uuid.UUID(i) for i in params.completed_scan_ids]
        async with self.sessionmaker() as session, session.begin():
            answered = []
            if params.answered_of_batch:
                answered = await answered_scans(session, params.answered_of_batch, completed, params.answered_limit)
            batch = await record_batch(session, completed + answered,
                                       [uuid.UUID(i) for i in params.timed_out_scan_ids], datetime.now(UTC),
                                       self.settings.incomplete_error_share)
            await self._start_deliveries(session, batch.events)
        worker_metrics.count_recorded(batch)
        return RecordOutcome(recorded=len(batch.scored), timed_out=batch.timed_out, remediations=batch.remediations,
                             answered_scan_ids=[str(scan_id) for scan_id in answered])

    async def _start_deliveries(self, session, events) -> None:
        if not events or self.gateway is None:
            return
        subscribed = await webhooks.orgs_with_webhooks(session, {e.org_id for e in events})
        wanted = [e for e in events if e.org_id in subscribed]
        if wanted:
            await self.gateway.start_webhook_deliveries(wanted)
