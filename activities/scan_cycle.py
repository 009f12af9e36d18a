"""Activities of ScanCycleWorkflow: plan the tick's scans, and hand Temporal what it missed while unreachable."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from temporalio import activity

from config import Settings
from models import AgentJob, CompliancePolicy, ComplianceScan, Host
from orchestration.gateway import SingleScan, TemporalGateway
from orchestration.types import BatchSpec, CyclePlan, PlanInput, SweepResult
from services.scans import plan_policy, policy_templates, queued_batches

log = logging.getLogger(__name__)
STRANDED_AFTER = timedelta(minutes=2)


class ScanCycleActivities:
    def __init__(self, sessionmaker: async_sessionmaker, settings: Settings, gateway: TemporalGateway):
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.gateway = gateway

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

    async def _restart_stranded_scans(self) -> int:
        async with self.sessionmaker() as session:
            rows = (await session.execute(
                select(ComplianceScan, Host.hostname).join(Host, Host.id == ComplianceScan.host_id)
                .where(ComplianceScan.status == "queued", ComplianceScan.scan_type.in_(("on_demand", "verify")),
                       ComplianceScan.created_at < datetime.now(UTC) - STRANDED_AFTER)
                .limit(500)
            )).all()
        for scan, hostname in rows:
            await self.gateway.start_single_scan(SingleScan(str(scan.id), str(scan.org_id), str(scan.policy_id),
                                                            str(scan.host_id), scan.scan_type, hostname))
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
                if await self.gateway.complete_agent_job(token, str(job_id), status):
                    retried += 1
                else:
                    late = True
            async with self.sessionmaker() as session, session.begin():
                await session.execute(update(AgentJob).where(AgentJob.id == job_id).values(
                    completion_pending=False, late=AgentJob.late | late))
        return retried
