"""ScanBatchWorkflow on its own: its activities replaced by name, on the time-skipping server."""

from __future__ import annotations

import asyncio
import uuid

from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from orchestration import ids
from orchestration.types import (
    AwaitJobInput,
    JobDone,
    OpenBatchInput,
    OpenedBatch,
    PreparedRemediation,
    RecordInput,
    RecordOutcome,
    RemediationInput,
    RemediationResult,
    RemediationStart,
    ScanBatchInput,
    ScanBatchResult,
)
from tests.e2e.test_scan_end_to_end import save_history
from workflows.remediation import RemediationWorkflow
from workflows.scan_batch import RECORD_WAIT, ScanBatchWorkflow, next_sweep_pause


class FakeScanActivities:
    """Three scans; the agent of the third never answers. One failed check of the first is to be remediated."""

    def __init__(self) -> None:
        self.recorded: list[RecordInput] = []
        self.prepared: list[RemediationInput] = []
        self.opened = OpenedBatch(scan_ids=["s1", "s2", "s3"], job_ids=["j1", "j2", "j3"])

    def worker_activities(self) -> list:
        @activity.defn(name="open_scan_batch")
        async def open_scan_batch(params: OpenBatchInput) -> OpenedBatch:
            return self.opened

        @activity.defn(name="record_scan_results")
        async def record_scan_results(params: RecordInput) -> RecordOutcome:
            self.recorded.append(params)
            planned = "s1" in params.completed_scan_ids
            remediations = [RemediationStart("r1", "s1", "c1", "o", "h", "p")] if planned else []
            return RecordOutcome(recorded=len(params.completed_scan_ids), timed_out=len(params.timed_out_scan_ids),
                                 remediations=remediations)

        @activity.defn(name="prepare_remediation")
        async def prepare_remediation(params: RemediationInput) -> PreparedRemediation:
            self.prepared.append(params)
            return PreparedRemediation(finished=True, status="skipped", reason="test")

        return [open_scan_batch, record_scan_results, prepare_remediation]

    @staticmethod
    @activity.defn(name="await_agent_result")
    async def await_agent_result(params: AwaitJobInput) -> JobDone:
        if params.job_id == "j3":
            raise ApplicationError("job j3 is timed_out", type="JobClosed", non_retryable=True)
        return JobDone(job_id=params.job_id, status="completed")


async def test_batch_records_answers_and_timeouts_and_starts_the_planned_remediations(skipping_env):
    queue = f"batch-{uuid.uuid4().hex[:8]}"
    fakes = FakeScanActivities()
    async with (
        Worker(skipping_env.client, task_queue=queue, workflows=[ScanBatchWorkflow, RemediationWorkflow],
               activities=fakes.worker_activities()),
        Worker(skipping_env.client, task_queue=ids.agent_waits_queue(queue),
               activities=[FakeScanActivities.await_agent_result]),
    ):
        result = await skipping_env.client.execute_workflow(
            ScanBatchWorkflow.run,
            ScanBatchInput(batch_id="b1", org_id="o", policy_id="p", scan_type="scheduled", agent_timeout_seconds=60),
            id=f"scan-batch-{uuid.uuid4()}", task_queue=queue,
        )
        remediation = skipping_env.client.get_workflow_handle(ids.remediation("s1", "c1"),
                                                              result_type=RemediationResult)
        assert (await remediation.result()).status == "skipped"

    assert result == ScanBatchResult(scans=3, completed=2, timed_out=1, remediations_started=1)
    completed = sorted(s for r in fakes.recorded for s in r.completed_scan_ids)
    timed_out = sorted(s for r in fakes.recorded for s in r.timed_out_scan_ids)
    assert completed == ["s1", "s2"] and timed_out == ["s3"]
    assert [p.trigger for p in fakes.prepared] == ["automatic"]


async def test_an_empty_batch_records_nothing(skipping_env):
    queue = f"batch-{uuid.uuid4().hex[:8]}"
    fakes = FakeScanActivities()
    fakes.opened = OpenedBatch()
    async with Worker(skipping_env.client, task_queue=queue, workflows=[ScanBatchWorkflow],
                      activities=fakes.worker_activities()):
        result = await skipping_env.client.execute_workflow(
            ScanBatchWorkflow.run, ScanBatchInput(batch_id="b0", org_id="o", policy_id="p", scan_type="scheduled"),
            id=f"scan-batch-{uuid.uuid4()}", task_queue=queue,
        )
    assert result == ScanBatchResult(scans=0, completed=0, timed_out=0, remediations_started=0)
    assert fakes.recorded == []


async def run_batch(env, batch_id: str, activities: list, await_agent_result):
    """ScanBatchWorkflow for `batch_id`, with these activities and agent waits, run to its end: (handle, result)."""
    queue = f"batch-{uuid.uuid4().hex[:8]}"
    async with (
        Worker(env.client, task_queue=queue, workflows=[ScanBatchWorkflow], activities=activities),
        Worker(env.client, task_queue=ids.agent_waits_queue(queue), activities=[await_agent_result]),
    ):
        handle = await env.client.start_workflow(
            ScanBatchWorkflow.run,
            ScanBatchInput(batch_id=batch_id, org_id="o", policy_id="p", scan_type="scheduled",
                           agent_timeout_seconds=60),
            id=f"scan-batch-{uuid.uuid4()}", task_queue=queue,
        )
        return handle, await handle.result()


class AnsweredBatch:
    """A batch whose agents have all answered: recording skips scans recorded already and, when the workflow
    sweeps, also takes up to its limit of the batch's other answered scans."""

    def __init__(self, size: int) -> None:
        self.scan_ids = [f"s{n}" for n in range(size)]
        self.recorded: list[str] = []
        self.records: list[RecordInput] = []
        self.swept: list[str] = []

    def activities(self) -> list:
        @activity.defn(name="open_scan_batch")
        async def open_scan_batch(params: OpenBatchInput) -> OpenedBatch:
            return OpenedBatch(scan_ids=self.scan_ids, job_ids=[f"j{s[1:]}" for s in self.scan_ids])

        @activity.defn(name="record_scan_results")
        async def record_scan_results(params: RecordInput) -> RecordOutcome:
            self.records.append(params)
            fresh = [s for s in params.completed_scan_ids if s not in self.recorded]  # recorded scans are skipped
            self.recorded.extend(fresh)
            answered = []
            if params.answered_of_batch:
                answered = [s for s in self.scan_ids if s not in self.recorded][:params.answered_limit]
                self.recorded.extend(answered)
                self.swept.extend(answered)
            return RecordOutcome(recorded=len(fresh) + len(answered), timed_out=0, answered_scan_ids=answered)

        return [open_scan_batch, record_scan_results]


async def test_scans_answered_before_their_wait_is_handed_out_are_recorded_without_one(skipping_env):
    """250 scans whose agents have all answered, 20 waits in flight at first, each taking a moment: the first
    recording takes the batch's other answered scans with it, and their waits are never handed out."""
    batch = AnsweredBatch(250)
    waited: list[str] = []

    @activity.defn(name="await_agent_result")
    async def await_agent_result(params: AwaitJobInput) -> JobDone:
        waited.append(params.job_id)
        await asyncio.sleep(0.3)  # registering the task token and hearing back
        return JobDone(job_id=params.job_id, status="completed")

    handle, result = await run_batch(skipping_env, "b-large", batch.activities(), await_agent_result)
    await save_history(handle, "scan_batch_answered_before_waits")

    assert sorted(batch.recorded) == sorted(batch.scan_ids)  # each once
    assert result == ScanBatchResult(scans=250, completed=250, timed_out=0, remediations_started=0)
    assert len(waited) <= 200 and len(batch.swept) >= 50  # many scans were recorded without a wait of their own
    assert all(len(r.completed_scan_ids) + r.answered_limit <= 200 for r in batch.records)  # RECORD_MAX


async def test_a_large_batch_whose_agents_are_offline_ends_every_scan_timed_out_once(skipping_env):
    records: list[RecordInput] = []

    @activity.defn(name="open_scan_batch")
    async def open_scan_batch(params: OpenBatchInput) -> OpenedBatch:
        return OpenedBatch(scan_ids=[f"s{n}" for n in range(150)], job_ids=[f"j{n}" for n in range(150)])

    @activity.defn(name="record_scan_results")
    async def record_scan_results(params: RecordInput) -> RecordOutcome:
        records.append(params)
        return RecordOutcome(recorded=0, timed_out=len(params.timed_out_scan_ids))

    @activity.defn(name="await_agent_result")
    async def await_agent_result(params: AwaitJobInput) -> JobDone:
        await asyncio.sleep(0.5)  # then the agent's time runs out
        raise ApplicationError(f"job {params.job_id} is timed_out", type="JobClosed", non_retryable=True)

    _, result = await run_batch(skipping_env, "b-offline", [open_scan_batch, record_scan_results],
                                await_agent_result)

    assert result.timed_out == 150
    assert sorted(s for r in records for s in r.timed_out_scan_ids) == sorted(f"s{n}" for n in range(150))


async def test_a_backlog_of_answered_scans_is_recorded_back_to_back(skipping_env):
    """1,000 scans whose agents have all answered, and waits that take a while: once a sweep comes back full, the
    next recording starts at once instead of after RECORD_WAIT, until the backlog is recorded."""
    batch = AnsweredBatch(1000)

    @activity.defn(name="await_agent_result")
    async def await_agent_result(params: AwaitJobInput) -> JobDone:
        await asyncio.sleep(3)  # slower than the backlog takes to record
        return JobDone(job_id=params.job_id, status="completed")

    handle, result = await run_batch(skipping_env, "b-backlog", batch.activities(), await_agent_result)

    assert result == ScanBatchResult(scans=1000, completed=1000, timed_out=0, remediations_started=0)
    assert sorted(batch.recorded) == sorted(batch.scan_ids)
    between: list[str] = []  # the timers that fired after the first recording and before the last one
    recordings = 0
    async for event in handle.fetch_history_events():
        if event.HasField("activity_task_scheduled_event_attributes") and \
                event.activity_task_scheduled_event_attributes.activity_type.name == "record_scan_results":
            recordings += 1
        elif event.HasField("timer_fired_event_attributes") and 0 < recordings < 5:
            between.append(event.timer_fired_event_attributes.timer_id)
    assert recordings == 5  # 200 scans each
    assert between == []


def test_sweeps_that_find_no_answered_scans_back_off_and_one_that_finds_some_resets():
    pause = RECORD_WAIT
    pauses = []
    for _ in range(8):
        pause = next_sweep_pause(pause, found=False)
        pauses.append(pause.total_seconds())
    assert pauses == [4, 8, 16, 32, 64, 64, 64, 64]
    assert next_sweep_pause(pause, found=True) == RECORD_WAIT
