"""ScanBatchWorkflow: open a batch's agent jobs, wait for each agent's answer, record results in micro-batches."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.scans import ScanActivities
    from orchestration import ids
    from orchestration.types import (
        AwaitJobInput,
        OpenBatchInput,
        RecordInput,
        RecordOutcome,
        RemediationStart,
        ScanBatchInput,
        ScanBatchResult,
        ScanRef,
    )
    from workflows import retries
    from workflows.remediation import start_remediations

# Scheduling an activity costs the worker ~1 ms of Python, and agents do not wait for these activities (their jobs
# are open already), so 100 waits per batch keep results flowing without delaying the opening of other batches.
AGENT_WAITS_IN_FLIGHT = 100
# A batch starts with 20 waits in flight and adds one per wait that ends, up to 100: before any agent can answer,
# the 80 batches of a 100k-host tick would put 8,000 waits on the server at once, which then took seconds to
# complete any workflow task.
FIRST_AGENT_WAITS = 20
# Scheduling hundreds of activities in one workflow task can exceed the SDK's 2-second deadlock detector on a
# busy worker: waits are handed out in slices, each in its own workflow task. Each pause costs a workflow task, so
# smaller slices slow every batch (slices of 25 made a 1,000-host batch 4 s slower).
DISPATCH_SLICE = 100
SLICE_PAUSE = timedelta(milliseconds=10)
RECORD_CHUNK = 50
RECORD_MAX = 200
RECORD_WAIT = timedelta(seconds=2)
LONGEST_SWEEP_PAUSE = timedelta(seconds=64)


def next_sweep_pause(pause: timedelta, found: bool) -> timedelta:
    """After a sweep for answered scans: look again soon if it found some, else wait twice as long (at most
    LONGEST_SWEEP_PAUSE)."""
    return RECORD_WAIT if found else min(pause * 2, LONGEST_SWEEP_PAUSE)


@workflow.defn(name=ids.SCAN_BATCH_WORKFLOW)
class ScanBatchWorkflow:
    def __init__(self) -> None:
        self._batch_id = ""
        self._completed: list[str] = []
        self._timed_out: list[str] = []
        self._in_flight = 0
        self._waits_allowed = FIRST_AGENT_WAITS
        self._unsettled: set[str] = set()  # scans neither recorded nor ended
        self._undispatched = 0  # scans whose wait has not been handed out yet
        self._sweep_pause = RECORD_WAIT
        self._large = False  # more scans than the first wave of waits
        self._next_sweep = datetime.min.replace(tzinfo=UTC)
        self._backlog = False  # the last sweep filled its recording: more answered scans are likely waiting

    @property
    def _waiting(self) -> int:
        return len(self._unsettled)

    @workflow.run
    async def run(self, params: ScanBatchInput) -> ScanBatchResult:
        opened = await workflow.execute_activity_method(
            ScanActivities.open_scan_batch, OpenBatchInput(batch_id=params.batch_id),
            start_to_close_timeout=timedelta(seconds=60), retry_policy=retries.DATABASE,
        )
        scans = opened.refs()
        self._batch_id = params.batch_id
        self._unsettled = {ref.scan_id for ref in scans}
        self._undispatched = len(scans)
        self._large = len(scans) > FIRST_AGENT_WAITS
        dispatcher = asyncio.create_task(self._dispatch(scans, params.agent_timeout_seconds))

        remediations: list[RemediationStart] = []
        recorded = timed_out = 0
        while self._waiting > 0 or self._has_buffered():
            try:
                await workflow.wait_condition(self._record_due, timeout=RECORD_WAIT)
            except TimeoutError:
                pass
            if self._has_buffered() or self._sweep_due() or self._backlogged():
                outcome = await self._record()
                recorded += outcome.recorded
                timed_out += outcome.timed_out
                remediations.extend(outcome.remediations)
        await dispatcher

        started = 0
        if remediations:
            started = await start_remediations(remediations)
        return ScanBatchResult(scans=len(scans), completed=recorded, timed_out=timed_out,
                               remediations_started=started)

    def _has_buffered(self) -> bool:
        return bool(self._completed or self._timed_out)

    def _sweep_due(self) -> bool:
        """Whether to record with nothing buffered, only to take the batch's answered scans (see _sweeping).
        A sweep that finds nothing doubles the pause before the next (a batch whose agents are offline would
        otherwise add a recording to its history every RECORD_WAIT until its last wait is handed out)."""
        return self._sweeping() and workflow.now() >= self._next_sweep

    def _sweeping(self) -> bool:
        """Recordings take the batch's answered scans while some waits are still to be handed out, and in a large
        batch until its last scan is settled: there, waits come back 100 at a time, each a round trip through
        Temporal, and answered scans would otherwise queue behind them. A batch that fits in the first wave of
        waits has them all in flight from the start and gains nothing."""
        return bool(self._undispatched) or (self._large and bool(self._unsettled))

    def _record_due(self) -> bool:
        """Whether to record now: a chunk of ended waits is buffered, the batch's last ones are, or the last sweep
        came back full (a backlog of answered scans is recorded back to back, not one recording per RECORD_WAIT)."""
        buffered = len(self._completed) + len(self._timed_out)
        return buffered >= RECORD_CHUNK or (self._waiting == 0 and buffered > 0) or self._backlogged()

    def _backlogged(self) -> bool:
        return self._backlog and self._sweeping()

    async def _dispatch(self, scans: list[ScanRef], timeout_seconds: int) -> None:
        waiters = []
        handed_out = 0
        for ref in scans:
            if ref.scan_id not in self._unsettled:  # recorded already: its agent answered before its turn
                self._undispatched -= 1
                continue
            if handed_out and handed_out % DISPATCH_SLICE == 0:
                await workflow.sleep(SLICE_PAUSE)
            await workflow.wait_condition(lambda: self._in_flight < self._waits_allowed)
            if ref.scan_id not in self._unsettled:  # recorded while this wait queued
                self._undispatched -= 1
                continue
            self._in_flight += 1
            self._undispatched -= 1
            handed_out += 1
            waiters.append(asyncio.create_task(self._await_agent(ref, timeout_seconds)))
        await asyncio.gather(*waiters)

    async def _await_agent(self, ref: ScanRef, timeout_seconds: int) -> None:
        try:
            await workflow.execute_activity_method(
                ScanActivities.await_agent_result, AwaitJobInput(job_id=ref.job_id),
                task_queue=ids.agent_waits_queue(workflow.info().task_queue),
                schedule_to_close_timeout=timedelta(seconds=timeout_seconds), retry_policy=retries.AGENT,
            )
            if ref.scan_id in self._unsettled:
                self._completed.append(ref.scan_id)
        except ActivityError:
            if ref.scan_id in self._unsettled:
                self._timed_out.append(ref.scan_id)
        finally:
            self._in_flight -= 1
            self._unsettled.discard(ref.scan_id)
            self._waits_allowed = min(self._waits_allowed + 1, AGENT_WAITS_IN_FLIGHT)

    async def _record(self) -> RecordOutcome:
        """Record a micro-batch. While the batch is sweeping (_sweeping), the activity also records scans of this
        batch whose agents have answered already (up to RECORD_MAX in all): on a large batch most agents answer
        before their wait's turn comes, and such a scan then needs no wait at all."""
        completed, self._completed = self._completed[:RECORD_MAX], self._completed[RECORD_MAX:]
        timed_out, self._timed_out = self._timed_out[:RECORD_MAX], self._timed_out[RECORD_MAX:]
        sweep = RECORD_MAX - len(completed) if self._sweeping() else 0
        outcome = await workflow.execute_activity_method(
            ScanActivities.record_scan_results,
            RecordInput(completed_scan_ids=completed, timed_out_scan_ids=timed_out,
                        answered_of_batch=self._batch_id if sweep > 0 else None, answered_limit=sweep),
            start_to_close_timeout=timedelta(seconds=60), retry_policy=retries.DATABASE,
        )
        self._unsettled.difference_update(outcome.answered_scan_ids)
        self._backlog = sweep > 0 and len(outcome.answered_scan_ids) >= sweep
        if sweep > 0:
            self._sweep_pause = next_sweep_pause(self._sweep_pause, found=bool(outcome.answered_scan_ids))
            self._next_sweep = workflow.now() + self._sweep_pause
        return outcome
