"""VulnMatchingWorkflow: ask online hosts for fresh inventories, then match each organization as soon as its own
hosts have answered (or timed out), so one organization's silent host never delays another's."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ActivityError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.scans import ScanActivities
    from activities.vulnerabilities import VulnerabilityActivities
    from orchestration import ids
    from orchestration import search_attributes as sa
    from orchestration.types import (
        AwaitJobInput,
        DeploymentInput,
        InventoryRequestInput,
        MatchingInput,
        MatchingResult,
        MatchOrgInput,
        OrgInventoryJobs,
        OrgMatchResult,
        StoreInventoriesInput,
    )
    from workflows import retries
    from workflows.patch_deployment import PatchDeploymentWorkflow

# As in ScanBatchWorkflow: waits are dispatched a slice at a time, with a bounded number in flight.
WAITS_IN_FLIGHT = 100
STORE_CHUNK = 200


@workflow.defn(name=ids.VULN_MATCHING_WORKFLOW)
class VulnMatchingWorkflow:
    def __init__(self) -> None:
        self._in_flight = 0
        self._result = MatchingResult()

    @workflow.run
    async def run(self, params: MatchingInput) -> MatchingResult:
        requests = await workflow.execute_activity_method(
            VulnerabilityActivities.request_inventories,
            InventoryRequestInput(max_age_hours=params.inventory_max_age_hours),
            start_to_close_timeout=timedelta(minutes=2), retry_policy=retries.PLANNING,
        )
        self._result.hosts_asked = requests.asked
        matched = await asyncio.gather(*(self._org(org, params) for org in requests.orgs))
        self._result.orgs = list(matched)
        return self._result

    async def _org(self, org: OrgInventoryJobs, params: MatchingInput) -> OrgMatchResult:
        answered: list[str] = []
        silent: list[str] = []
        await asyncio.gather(*(self._await(job_id, params.inventory_timeout_seconds, answered, silent)
                               for job_id in org.job_ids))
        for start in range(0, max(len(answered), len(silent)), STORE_CHUNK):
            stored = await workflow.execute_activity_method(
                VulnerabilityActivities.store_inventories,
                StoreInventoriesInput(completed_job_ids=answered[start:start + STORE_CHUNK],
                                      timed_out_job_ids=silent[start:start + STORE_CHUNK]),
                start_to_close_timeout=timedelta(minutes=5), retry_policy=retries.DATABASE,
            )
            self._result.inventories_stored += stored.stored
            self._result.inventories_timed_out += stored.timed_out
        matched = await workflow.execute_activity_method(
            VulnerabilityActivities.match_vulnerabilities, MatchOrgInput(org_id=org.org_id),
            start_to_close_timeout=timedelta(minutes=30), retry_policy=retries.DATABASE,
        )
        for deployment_id in matched.deployment_ids:
            await self._start_deployment(org.org_id, deployment_id, params.search_attributes)
        return matched

    @staticmethod
    async def _start_deployment(org_id: str, deployment_id: str, tagged: bool) -> None:
        """The automatic deployment outlives the matching run (ABANDON); one started before is left alone."""
        try:
            await workflow.start_child_workflow(
                PatchDeploymentWorkflow.run, DeploymentInput(deployment_id=deployment_id, org_id=org_id),
                id=ids.patch_deployment(deployment_id), parent_close_policy=ParentClosePolicy.ABANDON,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=sa.org_attributes(org_id) if tagged else None,
                static_summary=f"Automatic patch deployment {deployment_id} after matching",
            )
        except WorkflowAlreadyStartedError:
            pass

    async def _await(self, job_id: str, timeout_seconds: int, answered: list[str], silent: list[str]) -> None:
        await workflow.wait_condition(lambda: self._in_flight < WAITS_IN_FLIGHT)
        self._in_flight += 1
        try:
            await workflow.execute_activity_method(
                ScanActivities.await_agent_result, AwaitJobInput(job_id=job_id),
                task_queue=ids.agent_waits_queue(workflow.info().task_queue),
                schedule_to_close_timeout=timedelta(seconds=timeout_seconds), retry_policy=retries.AGENT,
            )
            answered.append(job_id)
        except ActivityError:
            silent.append(job_id)
        finally:
            self._in_flight -= 1
