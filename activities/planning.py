"""Activities of ScanCycleWorkflow: plan the tick's scans, retry agent completions that did not reach Temporal."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from temporalio import activity
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from activities.change_signals import resignal_decided_changes
from activities.scan_store import plan_policy, policy_templates, queued_batches
from config import Settings
from models import AgentJob, CompliancePolicy, ComplianceScan, Host
from workflows.remediation_types import ResignalResult
from workflows.starts import SingleScan, start_single_scan
from workflows.types import BatchSpec, CyclePlan, JobDone, PlanInput, SweepResult

log = logging.getLogger(__name__)
STRANDED_AFTER = timedelta(minutes=2)


class PlanningActivities:
    def __init__(self, sessionmaker: async_sessionmaker, settings: Settings, client: Client):
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.client = client

    @activity.defn(name="plan_scan_cycle")
    async def plan_scan_cycle(self, params: PlanInput) -> CyclePlan:
        now = datetime.now(UTC)
        due_total = 0
        async with self.sessionmaker() as session, session.begin():
            policies = list(await session.scalars(
                select(CompliancePolicy).where(CompliancePolicy.enabled).order_by(CompliancePolicy.id)
            ))
            templates = await policy_templates(session, policies)
            for policy in policies:
                template = templates.get(policy.id)
                if template is None:
                    log.warning("policy %s has no scannable template version; skipped", policy.id)
                    continue
                plan = await plan_policy(
                    session, policy, template, params.tick, now, cycle_minutes=self.settings.scan_cycle_minutes,
                    seen_within=timedelta(hours=self.settings.schedule_seen_within_hours),
                    workflow_chunk=self.settings.max_scans_per_batch_workflow,
                )
                due_total += plan.due
            batches = await queued_batches(session, params.tick)
        return CyclePlan(
            batches=[BatchSpec(workflow_id=w, policy_id=str(p), org_id=str(o), scan_count=n) for w, p, o, n in batches],
            agent_timeout_seconds=self.settings.agent_result_timeout_seconds,
            search_attributes=self.settings.temporal_search_attributes,
            due_hosts=due_total,
        )

    @activity.defn(name="sweep_stranded_work")
    async def sweep_stranded_work(self) -> SweepResult:
        """Safety nets: results stored while Temporal was unreachable, single scans whose workflow never started."""
        retried = await self._complete_pending_results()
        restarted = await self._restart_stranded_scans()
        return SweepResult(completions_retried=retried, scans_restarted=restarted)

    @activity.defn(name="resignal_decided_changes")
    async def resignal_decided_changes(self) -> ResignalResult:
        """Safety net: change decisions stored by the API whose signal never reached the waiting workflow."""
        return await resignal_decided_changes(self.sessionmaker, self.settings, self.client)

    async def _restart_stranded_scans(self) -> int:
        async with self.sessionmaker() as session:
            rows = (await session.execute(
                select(ComplianceScan, Host.hostname).join(Host, Host.id == ComplianceScan.host_id)
                .where(ComplianceScan.status == "queued", ComplianceScan.workflow_id.like("scan-%"),
                       ComplianceScan.workflow_id.not_like("scan-batch-%"),
                       ComplianceScan.created_at < datetime.now(UTC) - STRANDED_AFTER)
                .limit(500)
            )).all()
        for scan, hostname in rows:
            await start_single_scan(self.client, self.settings, SingleScan.of(scan, hostname))
        return len(rows)

    async def _complete_pending_results(self) -> int:
        async with self.sessionmaker() as session:
            jobs = (await session.execute(
                select(AgentJob.id, AgentJob.task_token, AgentJob.status)
                .where(AgentJob.completion_pending).order_by(AgentJob.completed_at).limit(1000)
            )).all()
        retried = 0
        for job_id, token, status in jobs:
            late = False
            if token is not None:
                try:
                    await self.client.get_async_activity_handle(task_token=token).complete(
                        JobDone(job_id=str(job_id), status=status)
                    )
                    retried += 1
                except RPCError as err:
                    if err.status != RPCStatusCode.NOT_FOUND:
                        raise
                    late = True
            async with self.sessionmaker() as session, session.begin():
                await session.execute(update(AgentJob).where(AgentJob.id == job_id).values(
                    completion_pending=False, late=AgentJob.late | late))
        return retried
