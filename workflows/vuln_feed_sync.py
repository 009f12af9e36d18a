"""VulnFeedSyncWorkflow: daily, sync every vulnerability source, then start a matching run."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.vulnerabilities import VulnerabilityActivities
    from orchestration import ids
    from orchestration.types import FeedOutcome, FeedSyncInput, FeedSyncResult, MatchingInput, SyncFeedInput
    from workflows.vuln_matching import VulnMatchingWorkflow

# A source that cannot be reached is an outcome of the activity; what is retried is the database.
SYNC_RETRY = RetryPolicy(initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=2),
                         maximum_attempts=5)


@workflow.defn(name=ids.VULN_FEED_SYNC_WORKFLOW)
class VulnFeedSyncWorkflow:
    @workflow.run
    async def run(self, params: FeedSyncInput) -> FeedSyncResult:
        tick = workflow.now().strftime("%Y%m%dT%H%M%S")
        outcomes: list[FeedOutcome] = []
        for source in params.sources:
            outcomes.append(await workflow.execute_activity_method(
                VulnerabilityActivities.sync_vuln_feed, SyncFeedInput(source=source),
                start_to_close_timeout=timedelta(hours=2), heartbeat_timeout=timedelta(minutes=10),
                retry_policy=SYNC_RETRY,
            ))
        result = FeedSyncResult(outcomes=outcomes)
        if params.match_after:
            result.matching_workflow_id = ids.vuln_matching_after_sync(tick)
            failed = [o.source for o in outcomes if o.status == "error"]
            try:
                await workflow.start_child_workflow(
                    VulnMatchingWorkflow.run,
                    MatchingInput(inventory_timeout_seconds=params.inventory_timeout_seconds,
                                  inventory_max_age_hours=params.inventory_max_age_hours,
                                  search_attributes=params.search_attributes),
                    id=result.matching_workflow_id, parent_close_policy=ParentClosePolicy.ABANDON,
                    static_summary="Match hosts after the feed sync"
                                   + (f" ({', '.join(failed)} failed)" if failed else ""),
                )
            except WorkflowAlreadyStartedError:
                pass
        return result
