"""Activities of ScanBatchWorkflow: open jobs, wait for agents (async completion), record results."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.post_scan import after_recording
from activities.recording import mark_timed_out, record_completed_scans
from activities.scan_store import open_jobs
from config import Settings
from workflows.types import (
    AwaitJobInput,
    JobDone,
    OpenBatchInput,
    OpenedBatch,
    RecordInput,
    RecordOutcome,
    ScanRef,
)


class ScanActivities:
    def __init__(self, sessionmaker: async_sessionmaker, settings: Settings):
        self.sessionmaker = sessionmaker
        self.settings = settings

    @activity.defn(name="open_scan_batch")
    async def open_scan_batch(self, params: OpenBatchInput) -> OpenedBatch:
        async with self.sessionmaker() as session, session.begin():
            refs = await open_jobs(session, params.batch_id)
        return OpenedBatch(scans=[ScanRef(scan_id=str(s), job_id=str(j), host_id=str(h)) for s, j, h in refs])

    @activity.defn(name="await_agent_result")
    async def await_agent_result(self, params: AwaitJobInput) -> JobDone:
        """Hang the task token on the job; the API completes this activity when the agent answers."""
        token = activity.info().task_token
        async with self.sessionmaker() as session, session.begin():
            status = await session.scalar(text("""
                UPDATE agent_jobs SET task_token = :token, updated_at = now() WHERE id = :id RETURNING status
            """), {"token": token, "id": uuid.UUID(params.job_id)})
        if status is None:
            raise ApplicationError(f"job {params.job_id} does not exist", type="JobClosed", non_retryable=True)
        if status == "completed":
            return JobDone(job_id=params.job_id, status=status)
        if status in ("timed_out", "cancelled"):
            raise ApplicationError(f"job {params.job_id} is {status}", type="JobClosed", non_retryable=True)
        activity.raise_complete_async()

    @activity.defn(name="record_scan_results")
    async def record_scan_results(self, params: RecordInput) -> RecordOutcome:
        now = datetime.now(UTC)
        async with self.sessionmaker() as session, session.begin():
            scored, checks = await record_completed_scans(
                session, [uuid.UUID(i) for i in params.completed_scan_ids], now
            )
            timed_out = await mark_timed_out(session, [uuid.UUID(i) for i in params.timed_out_scan_ids])
            remediations = await after_recording(session, scored, checks, now)
        return RecordOutcome(recorded=len(scored), timed_out=timed_out, remediations=remediations)
