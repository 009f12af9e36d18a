"""ScanCycleWorkflow: every 30 minutes, plan due hosts into batches and start one ScanBatchWorkflow per batch."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.exceptions import ExceptionActivities
    from activities.remediation import RemediationActivities
    from activities.scan_cycle import ScanCycleActivities
    from orchestration import ids
    from orchestration import search_attributes as sa
    from orchestration.types import BatchSpec, CycleInput, CycleResult, PlanInput, ScanBatchInput
    from workflows import retries
    from workflows.scan_batch import ScanBatchWorkflow

MAX_CHILDREN_PER_RUN = 900
# Children are started in rounds, each round in one workflow task. Rounds of 50 made tasks of 1.5-2.3 s while a
# 100k-host tick's batches started.
START_CONCURRENCY = 20
SAFETY_NET_TIMEOUT = timedelta(minutes=2)


@workflow.defn(name=ids.SCAN_CYCLE_WORKFLOW)
class ScanCycleWorkflow:
    def __init__(self) -> None:
        self._search_attributes = True

    @workflow.run
    async def run(self, params: CycleInput) -> CycleResult:
        tick = params.tick or workflow.now().strftime("%Y%m%dT%H%M%S")
        batches = params.pending_batches
        timeout, self._search_attributes = params.agent_timeout_seconds, params.search_attributes
        if not params.pending_batches:
            # Safety nets first: whatever Temporal missed while it was unreachable is handed to it again.
            for safety_net in (ScanCycleActivities.sweep_stranded_work, RemediationActivities.resignal_decided_changes,
                               ExceptionActivities.expire_overdue_exceptions):
                await workflow.execute_activity_method(safety_net, start_to_close_timeout=SAFETY_NET_TIMEOUT,
                                                       retry_policy=retries.PLANNING)
            plan = await workflow.execute_activity_method(
                ScanCycleActivities.plan_scan_cycle, PlanInput(tick=tick),
                start_to_close_timeout=timedelta(minutes=5), retry_policy=retries.PLANNING,
            )
            batches, timeout = plan.batches, plan.agent_timeout_seconds
            self._search_attributes = plan.search_attributes

        now_batches, later = batches[:MAX_CHILDREN_PER_RUN], batches[MAX_CHILDREN_PER_RUN:]
        for offset in range(0, len(now_batches), START_CONCURRENCY):
            chunk = now_batches[offset:offset + START_CONCURRENCY]
            await asyncio.gather(*(self._start_batch(spec, timeout) for spec in chunk))
        if later:
            workflow.continue_as_new(CycleInput(tick=tick, pending_batches=later, agent_timeout_seconds=timeout,
                                                 search_attributes=self._search_attributes))
        return CycleResult(tick=tick, batches_started=len(now_batches),
                           scans_planned=sum(b.scan_count for b in batches))

    async def _start_batch(self, spec: BatchSpec, timeout_seconds: int) -> None:
        # Servers without the custom attributes registered (the time-skipping test server) refuse them.
        attributes = sa.scan_attributes(spec.org_id, spec.policy_id, "scheduled") if self._search_attributes else None
        try:
            await workflow.start_child_workflow(
                ScanBatchWorkflow.run,
                ScanBatchInput(batch_id=spec.workflow_id, org_id=spec.org_id, policy_id=spec.policy_id,
                               scan_type="scheduled", agent_timeout_seconds=timeout_seconds),
                id=spec.workflow_id,
                parent_close_policy=ParentClosePolicy.ABANDON,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=attributes,
                static_summary=f"Scheduled scan of {spec.scan_count} hosts for policy {spec.policy_id}",
            )
        except WorkflowAlreadyStartedError:
            pass
