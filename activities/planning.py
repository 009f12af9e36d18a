"""Activities of ScanCycleWorkflow: plan the tick's scans, retry agent completions that did not reach Temporal."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from temporalio import activity
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from activities.scan_store import plan_policy, policy_templates, queued_batches
from config import Settings
from models import AgentJob, CompliancePolicy
from workflows.types import BatchSpec, CyclePlan, JobDone, PlanInput, SweepResult

log = logging.getLogger(__name__)


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
                )
                due_total += plan.due
            batches = await queued_batches(session, params.tick)
        return CyclePlan(
            batches=[BatchSpec(workflow_id=w, policy_id=str(p), org_id=str(o), scan_count=n) for w, p, o, n in batches],
            agent_timeout_seconds=self.settings.agent_result_timeout_seconds,
            due_hosts=due_total,
        )

    @activity.defn(name="sweep_agent_completions")
    async def sweep_agent_completions(self) -> SweepResult:
        """Results persisted while Temporal was unreachable: complete their waiting activities now."""
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
        return SweepResult(completions_retried=retried)
