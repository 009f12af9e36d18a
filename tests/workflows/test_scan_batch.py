"""ScanBatchWorkflow on its own: its activities replaced by name, on the time-skipping server."""

from __future__ import annotations

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
from workflows.remediation import RemediationWorkflow
from workflows.scan_batch import ScanBatchWorkflow


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
