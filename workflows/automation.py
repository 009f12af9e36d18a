"""AutomationWorkflow: a multi-step remediation runs its scripts as agent jobs, in order, stopping at a failure."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.remediation import RemediationActivities
    from activities.scans import ScanActivities
    from orchestration import ids
    from orchestration.types import (
        AutomationInput,
        AutomationResult,
        AwaitJobInput,
        DispatchInput,
        JobOutcomeInput,
        StepOutcome,
    )
    from workflows import retries

DATABASE_TIMEOUT = timedelta(minutes=1)


async def run_script_job(remediation_id: str, script_id: str, step: int, agent_timeout_seconds: int) -> StepOutcome:
    """Create one `remediation` agent job and wait for the agent's answer (async completion, like a scan)."""
    job_id = str(workflow.uuid4())  # deterministic, so a retried dispatch cannot create a second job
    await workflow.execute_activity_method(
        RemediationActivities.dispatch_remediation_job,
        DispatchInput(job_id=job_id, remediation_id=remediation_id, script_id=script_id, step=step),
        start_to_close_timeout=DATABASE_TIMEOUT, retry_policy=retries.DATABASE,
    )
    answered = True
    try:
        await workflow.execute_activity_method(
            ScanActivities.await_agent_result, AwaitJobInput(job_id=job_id),
            schedule_to_close_timeout=timedelta(seconds=agent_timeout_seconds), retry_policy=retries.AGENT,
        )
    except ActivityError:
        answered = False
    return await workflow.execute_activity_method(
        RemediationActivities.remediation_job_outcome,
        JobOutcomeInput(job_id=job_id, script_id=script_id, answered=answered),
        start_to_close_timeout=DATABASE_TIMEOUT, retry_policy=retries.DATABASE,
    )


@workflow.defn(name=ids.AUTOMATION_WORKFLOW)
class AutomationWorkflow:
    @workflow.run
    async def run(self, params: AutomationInput) -> AutomationResult:
        outcomes: list[StepOutcome] = []
        failed = False
        for index, step in enumerate(params.steps):
            outcome = await run_script_job(params.remediation_id, step.script_id, index, params.agent_timeout_seconds)
            outcomes.append(outcome)
            # A step marked continue_on_failure may fail without failing the whole remediation.
            if outcome.status != "success" and not step.continue_on_failure:
                failed = True
                break
        return AutomationResult(status="failed" if failed else "success", steps=outcomes)
