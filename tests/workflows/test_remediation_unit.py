"""RemediationWorkflow on its own: its activities replaced by name, on the time-skipping server (a 15-minute
verify delay and a week-long approval wait take milliseconds)."""

from __future__ import annotations

import uuid

from temporalio import activity
from temporalio.worker import Worker

from orchestration import ids
from orchestration.types import (
    AwaitJobInput,
    BeginInput,
    BeginResult,
    ClosedRemediation,
    CloseInput,
    Decision,
    DispatchInput,
    JobDone,
    JobOutcomeInput,
    OutcomeInput,
    PreparedRemediation,
    RemediationInput,
    RemediationRef,
    StepOutcome,
    StoredDecision,
    VerifyScan,
)
from workflows.remediation import RemediationWorkflow

PARAMS = RemediationInput(remediation_id="r1", scan_id="s1", check_id="c1", org_id="o", host_id="h", policy_id="p")


class FakeRemediationActivities:
    def __init__(self, needs_approval: bool, approval_timeout_seconds: int = 7 * 24 * 3600,
                 stored: str | None = None):
        self.calls: list[str] = []
        self.stored = stored  # the decision the API stored, read when a signal nudges the workflow
        self.closed: list[CloseInput] = []
        self.outcomes: list[OutcomeInput] = []
        self.needs_approval = needs_approval
        self.approval_timeout_seconds = approval_timeout_seconds

    def all(self) -> list:
        @activity.defn(name="prepare_remediation")
        async def prepare(params: RemediationInput) -> PreparedRemediation:
            self.calls.append("prepare")
            return PreparedRemediation(finished=False, status="planned", needs_approval=self.needs_approval,
                                       script_id="script-1", approval_timeout_seconds=self.approval_timeout_seconds,
                                       verify_delay_seconds=900, agent_timeout_seconds=60)

        @activity.defn(name="read_change_decision")
        async def read_decision(params: RemediationRef) -> StoredDecision:
            self.calls.append("read_decision")
            return StoredDecision(self.stored)

        @activity.defn(name="close_remediation")
        async def close(params: CloseInput) -> ClosedRemediation:
            self.calls.append(f"close:{params.status}")
            self.closed.append(params)
            return ClosedRemediation(params.status, params.reason)

        @activity.defn(name="begin_remediation")
        async def begin(params: BeginInput) -> BeginResult:
            self.calls.append("begin")
            return BeginResult(proceed=True)

        @activity.defn(name="dispatch_remediation_job")
        async def dispatch(params: DispatchInput) -> None:
            self.calls.append("dispatch")

        @activity.defn(name="await_agent_result")
        async def await_agent(params: AwaitJobInput) -> JobDone:
            self.calls.append("await_agent")
            return JobDone(params.job_id, "completed")

        @activity.defn(name="remediation_job_outcome")
        async def job_outcome(params: JobOutcomeInput) -> StepOutcome:
            self.calls.append("job_outcome")
            return StepOutcome(status="success", exit_code=0, output="fixed", script_id=params.script_id)

        @activity.defn(name="record_remediation_outcome")
        async def record(params: OutcomeInput) -> None:
            self.calls.append("record")
            self.outcomes.append(params)

        @activity.defn(name="open_verify_scan")
        async def verify(params: RemediationRef) -> VerifyScan:
            self.calls.append("verify")
            return VerifyScan(scan_id=None)

        return [prepare, read_decision, close, begin, dispatch, await_agent, job_outcome, record, verify]


async def run(env, fakes: FakeRemediationActivities, signal: str | None = None):
    queue = f"remediation-{uuid.uuid4().hex[:8]}"
    async with Worker(env.client, task_queue=queue, workflows=[RemediationWorkflow], activities=fakes.all()):
        handle = await env.client.start_workflow(RemediationWorkflow.run, PARAMS,
                                                 id=ids.remediation("s1", f"c-{uuid.uuid4()}"), task_queue=queue)
        if signal is not None:
            await handle.signal(signal, Decision())
        return await handle.result()


async def test_automatic_fix_runs_records_its_outcome_and_verifies(skipping_env):
    fakes = FakeRemediationActivities(needs_approval=False)
    result = await run(skipping_env, fakes)
    assert result.status == "completed"
    assert fakes.calls == ["prepare", "begin", "dispatch", "await_agent", "job_outcome", "record", "verify"]
    assert fakes.outcomes[0].status == "success" and fakes.outcomes[0].output == "fixed"


async def test_approved_change_runs_the_fix(skipping_env):
    fakes = FakeRemediationActivities(needs_approval=True, stored="approved")
    result = await run(skipping_env, fakes, ids.APPROVE)
    assert result.status == "completed"
    assert fakes.calls[:3] == ["prepare", "read_decision", "begin"] and "dispatch" in fakes.calls


async def test_rejected_change_runs_nothing(skipping_env):
    fakes = FakeRemediationActivities(needs_approval=True, stored="rejected")
    result = await run(skipping_env, fakes, ids.REJECT)
    assert result.status == "rejected"
    assert fakes.calls == ["prepare", "read_decision", "close:rejected"]


async def test_an_approve_signal_without_a_stored_approval_changes_nothing(skipping_env):
    fakes = FakeRemediationActivities(needs_approval=True, approval_timeout_seconds=3600)
    result = await run(skipping_env, fakes, ids.APPROVE)
    assert result.status == "expired"
    assert fakes.calls == ["prepare", "read_decision", "close:expired"]


async def test_undecided_change_expires_after_the_approval_timeout(skipping_env):
    fakes = FakeRemediationActivities(needs_approval=True, approval_timeout_seconds=3 * 24 * 3600)
    result = await run(skipping_env, fakes)
    assert result.status == "expired"
    assert fakes.calls == ["prepare", "close:expired"]
