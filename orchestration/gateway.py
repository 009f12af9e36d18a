"""The only door to Temporal from outside a workflow: starts, signals, async-activity completion, the schedule.

The API and the activities call this with ids and plain dataclasses; workflows are started by their type name,
so this module needs nothing of `workflows/` and the arrows stay one way.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.common import TypedSearchAttributes, WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from config import Settings
from observability import tracing
from orchestration import ids
from orchestration import search_attributes as sa
from orchestration.types import (
    CycleInput,
    Decision,
    DeploymentInput,
    ExpiryInput,
    ExpiryReschedule,
    ExpiryRevoke,
    FeedSyncInput,
    JobDone,
    MatchingInput,
    RemediationInput,
    RemediationStart,
    ScanBatchInput,
    WebhookEvent,
)

log = logging.getLogger(__name__)


class TemporalUnavailable(Exception):
    """Temporal could not be reached in time."""


@dataclass
class SingleScan:
    """A queued one-host scan (on demand or verify) whose workflow is to start."""

    scan_id: str
    org_id: str
    policy_id: str
    host_id: str
    scan_type: str
    hostname: str


@dataclass
class ExpiryTimer:
    """What an exception's expiry timer needs to know about it."""

    exception_id: str
    org_id: str
    rule_id: str
    host_id: str | None
    expires_at: datetime | None


class TemporalGateway:
    """Holds one client, connected on first use, so an API starts (and reports not-ready) while Temporal is down."""

    def __init__(self, settings: Settings, client: Client | None = None):
        self.settings = settings
        self._client = client
        self._lock = asyncio.Lock()

    async def client(self, timeout: float = 5.0) -> Client:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                try:
                    self._client = await asyncio.wait_for(
                        Client.connect(self.settings.temporal_address, namespace=self.settings.temporal_namespace,
                                       interceptors=tracing.temporal_interceptors(self.settings, "compliance-api")),
                        timeout,
                    )
                except Exception as exc:
                    raise TemporalUnavailable(f"Temporal is unreachable: {exc}") from exc
        return self._client

    async def check_health(self, timeout: float = 3.0) -> None:
        client = await self.client(timeout)
        await asyncio.wait_for(client.service_client.check_health(), timeout)

    def _tagged(self, attributes):
        # Servers without the custom attributes registered (the time-skipping test server) refuse them.
        return attributes if self.settings.temporal_search_attributes else None

    # Scans

    async def start_single_scan(self, scan: SingleScan) -> None:
        """A duplicate start (retried request, the cycle's sweep) joins the run already going."""
        await (await self.client()).start_workflow(
            ids.SCAN_BATCH_WORKFLOW,
            ScanBatchInput(batch_id=ids.single_scan(scan.scan_id), org_id=scan.org_id, policy_id=scan.policy_id,
                           scan_type=scan.scan_type, host_id=scan.host_id,
                           agent_timeout_seconds=self.settings.agent_result_timeout_seconds),
            id=ids.single_scan(scan.scan_id),
            task_queue=self.settings.temporal_task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            search_attributes=self._tagged(sa.scan_attributes(scan.org_id, scan.policy_id, scan.scan_type,
                                                              scan.host_id)),
            static_summary=f"{scan.scan_type.replace('_', '-')} scan of {scan.hostname}",
        )

    async def complete_agent_job(self, task_token: bytes, job_id: str, status: str = "completed",
                                 timeout: float = 10.0) -> bool:
        """Complete the activity waiting for this job. False when that activity no longer exists (it timed out,
        so the result is late); any other failure is raised for the caller to retry later."""
        try:
            handle = (await self.client(timeout=3)).get_async_activity_handle(task_token=task_token)
            await asyncio.wait_for(handle.complete(JobDone(job_id=job_id, status=status)), timeout)
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return False
            raise
        return True

    # Remediation

    async def start_remediation(self, start: RemediationStart, trigger: str, summary: str) -> str:
        """A duplicate start (retried request, safety net) joins the run already going (USE_EXISTING); returns
        the run id."""
        params = RemediationInput(
            remediation_id=start.remediation_id, scan_id=start.scan_id, check_id=start.check_id,
            org_id=start.org_id, host_id=start.host_id, policy_id=start.policy_id, trigger=trigger,
            approval_timeout_seconds=self.settings.approval_timeout_seconds,
            verify_delay_seconds=self.settings.verify_delay_seconds,
            agent_timeout_seconds=self.settings.agent_result_timeout_seconds,
            search_attributes=self.settings.temporal_search_attributes,
        )
        handle = await (await self.client()).start_workflow(
            ids.REMEDIATION_WORKFLOW, params,
            id=ids.remediation(start.scan_id, start.check_id),
            task_queue=self.settings.temporal_task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            search_attributes=self._tagged(sa.remediation_attributes(start.org_id, start.policy_id, start.host_id)),
            static_summary=summary,
        )
        return handle.result_run_id or ""

    async def signal_change_decision(self, workflow_id: str, approved: bool, timeout: float = 10.0) -> bool:
        """Tell a waiting remediation that its change record was decided; the workflow reads the decision from
        the database. False when no such workflow runs."""
        try:
            handle = (await self.client(timeout=3)).get_workflow_handle(workflow_id)
            await asyncio.wait_for(handle.signal(ids.APPROVE if approved else ids.REJECT, Decision()), timeout)
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return False
            raise
        return True

    # Patch deployments

    async def start_patch_deployment(self, deployment_id: str, org_id: str, summary: str) -> None:
        """A duplicate start (retried request) joins the run already going."""
        await (await self.client()).start_workflow(
            ids.PATCH_DEPLOYMENT_WORKFLOW, DeploymentInput(deployment_id=deployment_id, org_id=org_id),
            id=ids.patch_deployment(deployment_id), task_queue=self.settings.temporal_task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            search_attributes=self._tagged(sa.org_attributes(org_id)), static_summary=summary,
        )

    async def signal_deployment_cancel(self, deployment_id: str, timeout: float = 10.0) -> bool:
        """Tell a deployment that its cancellation was stored; False when no such workflow runs."""
        try:
            handle = (await self.client(timeout=3)).get_workflow_handle(ids.patch_deployment(deployment_id))
            await asyncio.wait_for(handle.signal(ids.CANCEL, Decision()), timeout)
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return False
            raise
        return True

    # Exceptions

    async def arm_expiry(self, timer: ExpiryTimer) -> None:
        """Start the timer; a retried approval finds the one already running."""
        await self._start_expiry(timer, None)

    async def move_expiry(self, timer: ExpiryTimer) -> None:
        """Re-arm a running timer to the new expiry, or start one if none runs (the exception had no expiry)."""
        await self._start_expiry(timer, ids.RESCHEDULE)

    async def clear_expiry(self, timer: ExpiryTimer) -> None:
        """The exception no longer expires: the timer ends without expiring it."""
        await self._signal_expiry(timer, ids.RESCHEDULE, ExpiryReschedule(expires_at=None))

    async def revoke_expiry(self, timer: ExpiryTimer) -> None:
        await self._signal_expiry(timer, ids.REVOKE, ExpiryRevoke())

    async def _start_expiry(self, timer: ExpiryTimer, signal: str | None) -> None:
        assert timer.expires_at is not None
        expires_at = timer.expires_at.isoformat()
        await (await self.client()).start_workflow(
            ids.EXCEPTION_EXPIRY_WORKFLOW,
            ExpiryInput(exception_id=timer.exception_id, expires_at=expires_at),
            id=ids.exception_expiry(timer.exception_id),
            task_queue=self.settings.temporal_task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            start_signal=signal,
            start_signal_args=[ExpiryReschedule(expires_at=expires_at)] if signal else [],
            search_attributes=self._tagged(sa.exception_attributes(timer.org_id, timer.host_id)),
            static_summary=f"Expiry of exception {timer.rule_id} at {expires_at}",
        )

    async def _signal_expiry(self, timer: ExpiryTimer, signal: str, argument) -> None:
        try:
            await (await self.client()).get_workflow_handle(ids.exception_expiry(timer.exception_id)).signal(
                signal, argument)
        except RPCError as err:
            # No timer running (never armed, or already finished): nothing to stop.
            if err.status != RPCStatusCode.NOT_FOUND:
                raise

    # Webhooks

    async def start_webhook_deliveries(self, events: list[WebhookEvent]) -> None:
        """One workflow per event; a second start for the same event (running or finished) is a no-op."""
        client = await self.client()

        async def start(event: WebhookEvent) -> None:
            try:
                await client.start_workflow(
                    ids.WEBHOOK_DELIVERY_WORKFLOW, event, id=ids.webhook_delivery(event.event_type, event.event_id),
                    task_queue=self.settings.temporal_task_queue,
                    id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                    search_attributes=self._tagged(sa.org_attributes(event.org_id)),
                    static_summary=f"deliver {event.event_type} {event.event_id} to org {event.org_id} webhooks",
                )
            except WorkflowAlreadyStartedError:
                pass

        await asyncio.gather(*(start(e) for e in events))

    # The scan-cycle schedule

    def scan_cycle_schedule(self) -> Schedule:
        return Schedule(
            action=ScheduleActionStartWorkflow(
                ids.SCAN_CYCLE_WORKFLOW, CycleInput(agent_timeout_seconds=self.settings.agent_result_timeout_seconds),
                id=ids.SCAN_CYCLE, task_queue=self.settings.temporal_task_queue,
                typed_search_attributes=self._tagged(sa.cycle_attributes()) or TypedSearchAttributes.empty,
                static_summary="Plan due hosts and start scan batches",
            ),
            spec=ScheduleSpec(intervals=[
                ScheduleIntervalSpec(every=timedelta(minutes=self.settings.scan_cycle_minutes))]),
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(minutes=15)),
        )

    async def ensure_scan_cycle_schedule(self) -> None:
        """Create the scan-cycle schedule, or bring an existing one up to date (safe on every start)."""
        client = await self.client()
        schedule = self.scan_cycle_schedule()
        try:
            await client.create_schedule(ids.SCAN_CYCLE_SCHEDULE, schedule)
        except ScheduleAlreadyRunningError:
            async def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
                return ScheduleUpdate(schedule=schedule)

            await client.get_schedule_handle(ids.SCAN_CYCLE_SCHEDULE).update(replace)

    async def trigger_scan_cycle(self) -> None:
        """Run the cycle now rather than at the next interval."""
        await (await self.client()).get_schedule_handle(ids.SCAN_CYCLE_SCHEDULE).trigger()

    # The vulnerability schedules

    def vuln_feed_sync_schedule(self) -> Schedule:
        return Schedule(
            action=ScheduleActionStartWorkflow(
                ids.VULN_FEED_SYNC_WORKFLOW,
                FeedSyncInput(inventory_timeout_seconds=self.settings.vuln_inventory_timeout_seconds,
                              inventory_max_age_hours=self.settings.vuln_matching_hours,
                              search_attributes=self.settings.temporal_search_attributes),
                id=ids.VULN_FEED_SYNC, task_queue=self.settings.temporal_task_queue,
                static_summary="Sync NVD, CISA KEV and OSV, then match hosts",
            ),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(hours=self.settings.vuln_feed_sync_hours))]),
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(hours=1)),
        )

    def vuln_matching_schedule(self) -> Schedule:
        return Schedule(
            action=ScheduleActionStartWorkflow(
                ids.VULN_MATCHING_WORKFLOW,
                MatchingInput(inventory_timeout_seconds=self.settings.vuln_inventory_timeout_seconds,
                              inventory_max_age_hours=self.settings.vuln_matching_hours,
                              search_attributes=self.settings.temporal_search_attributes),
                id=ids.VULN_MATCHING, task_queue=self.settings.temporal_task_queue,
                static_summary="Refresh package inventories and match hosts against the vulnerability feeds",
            ),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(hours=self.settings.vuln_matching_hours))]),
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(hours=1)),
        )

    async def ensure_vuln_schedules(self) -> None:
        """Create the vuln-feed-sync and vuln-host-matching schedules, or bring them up to date."""
        client = await self.client()
        for schedule_id, schedule in ((ids.VULN_FEED_SYNC_SCHEDULE, self.vuln_feed_sync_schedule()),
                                      (ids.VULN_MATCHING_SCHEDULE, self.vuln_matching_schedule())):
            try:
                await client.create_schedule(schedule_id, schedule)
            except ScheduleAlreadyRunningError:
                async def replace(_: ScheduleUpdateInput, schedule=schedule) -> ScheduleUpdate:
                    return ScheduleUpdate(schedule=schedule)

                await client.get_schedule_handle(schedule_id).update(replace)

    async def trigger_vuln_feed_sync(self) -> None:
        """Sync the feeds now (matching follows); a sync already running is not doubled (the schedule skips)."""
        await (await self.client()).get_schedule_handle(ids.VULN_FEED_SYNC_SCHEDULE).trigger(
            overlap=ScheduleOverlapPolicy.SKIP)

    async def trigger_vuln_matching(self) -> None:
        await (await self.client()).get_schedule_handle(ids.VULN_MATCHING_SCHEDULE).trigger(
            overlap=ScheduleOverlapPolicy.SKIP)
