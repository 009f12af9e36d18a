"""PatchDeploymentWorkflow: approval (change record + signal), then each ring in order — kill switch, install
jobs, outcome, fresh inventories and lifecycle sync, halt on too many failures, soak — until done or cancelled."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.patch_deployments import PatchDeploymentActivities
    from activities.scans import ScanActivities
    from orchestration import ids
    from orchestration.types import (
        AwaitJobInput,
        Decision,
        DeploymentInput,
        DeploymentRef,
        DeploymentResult,
        FinishedDeployment,
        FinishInput,
        LifecycleInput,
        PatchedInventoryInput,
        RingInput,
        RingResultInput,
        SoakInput,
    )
    from workflows import retries

DATABASE_TIMEOUT = timedelta(minutes=2)
WAITS_IN_FLIGHT = 100
REFUSALS = {None: "approval timed out", "rejected": "the change was rejected", "cancelled": "cancelled by request"}


@workflow.defn(name=ids.PATCH_DEPLOYMENT_WORKFLOW)
class PatchDeploymentWorkflow:
    def __init__(self) -> None:
        self._nudged = False
        self._cancel = False
        self._in_flight = 0

    # Signals carry no authority: they say "look again", and the workflow acts on what the API stored.
    @workflow.signal(name=ids.APPROVE)
    def approve(self, _: Decision) -> None:
        self._nudged = True

    @workflow.signal(name=ids.REJECT)
    def reject(self, _: Decision) -> None:
        self._nudged = True

    @workflow.signal(name=ids.CANCEL)
    def cancel(self, _: Decision) -> None:
        self._cancel = self._nudged = True

    @workflow.run
    async def run(self, params: DeploymentInput) -> DeploymentResult:
        prepared = await self._db(PatchDeploymentActivities.prepare_deployment, params)
        if prepared.finished:
            return DeploymentResult(status=prepared.status, reason=prepared.reason)
        if prepared.needs_approval:
            decision = prepared.decision or await self._await_decision(params, prepared.approval_timeout_seconds)
            if decision != "approved":
                return self._result(await self._finish(params, "cancelled", REFUSALS.get(decision, decision)))

        rings_run = 0
        last = len(prepared.soak_minutes) - 1
        for ring in range(prepared.next_ring, last + 1):
            start = await self._db(PatchDeploymentActivities.begin_ring, RingInput(params.deployment_id, ring))
            if not start.proceed:
                return DeploymentResult(status=start.status, reason=start.reason, rings_run=rings_run)
            rings_run += 1
            silent = await self._await_jobs(start.job_ids, prepared.agent_timeout_seconds)
            outcome = await self._db(PatchDeploymentActivities.record_ring,
                                     RingResultInput(params.deployment_id, ring, silent))
            if outcome.patched_host_ids:
                await self._sync_patched(params, outcome.patched_host_ids, prepared.inventory_timeout_seconds)
            if outcome.halt:
                reason = f"ring {ring + 1}: {outcome.failed} of {outcome.total} hosts failed, above its limit"
                return self._result(await self._finish(params, "halted", reason), rings_run)
            if ring < last and outcome.total and prepared.soak_minutes[ring] > 0:
                seconds = prepared.soak_minutes[ring] * 60
                await self._db(PatchDeploymentActivities.start_soak, SoakInput(params.deployment_id, ring, seconds))
                if (cancelled := await self._soak(params, seconds)) is not None:
                    return self._result(cancelled, rings_run)
            elif self._cancel and (cancelled := await self._confirm_cancel(params)) is not None:
                return self._result(cancelled, rings_run)
        return self._result(await self._finish(params, "completed", None), rings_run)

    @staticmethod
    def _result(finished: FinishedDeployment, rings_run: int = 0) -> DeploymentResult:
        return DeploymentResult(status=finished.status, reason=finished.reason, rings_run=rings_run)

    async def _db(self, method, arg):
        return await workflow.execute_activity_method(method, arg, start_to_close_timeout=DATABASE_TIMEOUT,
                                                      retry_policy=retries.DATABASE)

    async def _finish(self, params: DeploymentInput, status: str, reason: str | None,
                      only_if_cancel_requested: bool = False) -> FinishedDeployment:
        return await self._db(PatchDeploymentActivities.finish_deployment,
                              FinishInput(params.deployment_id, status, reason, only_if_cancel_requested))

    async def _confirm_cancel(self, params: DeploymentInput) -> FinishedDeployment | None:
        """Cancelled only when the API stored the request; a bare signal is ignored."""
        self._cancel = False
        finished = await self._finish(params, "cancelled", "cancelled by request", only_if_cancel_requested=True)
        return finished if finished.finished else None

    async def _await_decision(self, params: DeploymentInput, timeout_seconds: int) -> str | None:
        """Wait for a signal, then read what the API stored; None when nothing was decided in time. At the
        deadline the decision is read once more, so a decision whose signal was lost still counts."""
        deadline = workflow.now() + timedelta(seconds=timeout_seconds)
        while (remaining := deadline - workflow.now()) > timedelta(0):
            try:
                await workflow.wait_condition(lambda: self._nudged, timeout=remaining)
            except TimeoutError:
                break
            self._nudged = False
            if (decision := await self._stored_decision(params)) is not None:
                return decision
        return await self._stored_decision(params)

    async def _stored_decision(self, params: DeploymentInput) -> str | None:
        stored = await self._db(PatchDeploymentActivities.read_deployment_decision,
                                DeploymentRef(params.deployment_id))
        return stored.decision

    async def _soak(self, params: DeploymentInput, seconds: int) -> FinishedDeployment | None:
        """The durable soak timer; a stored cancel ends it early."""
        deadline = workflow.now() + timedelta(seconds=seconds)
        while (remaining := deadline - workflow.now()) > timedelta(0):
            try:
                await workflow.wait_condition(lambda: self._cancel, timeout=remaining)
            except TimeoutError:
                return None
            if (cancelled := await self._confirm_cancel(params)) is not None:
                return cancelled
        return None

    async def _await_jobs(self, job_ids: list[str], timeout_seconds: int) -> list[str]:
        """Wait for each agent job (async completion); returns the ones not answered in time."""
        silent: list[str] = []

        async def wait(job_id: str) -> None:
            await workflow.wait_condition(lambda: self._in_flight < WAITS_IN_FLIGHT)
            self._in_flight += 1
            try:
                await workflow.execute_activity_method(
                    ScanActivities.await_agent_result, AwaitJobInput(job_id=job_id),
                    task_queue=ids.agent_waits_queue(workflow.info().task_queue),
                    schedule_to_close_timeout=timedelta(seconds=timeout_seconds), retry_policy=retries.AGENT,
                )
            except ActivityError:
                silent.append(job_id)
            finally:
                self._in_flight -= 1

        await asyncio.gather(*(wait(j) for j in job_ids))
        return sorted(silent)

    async def _sync_patched(self, params: DeploymentInput, host_ids: list[str], timeout_seconds: int) -> None:
        refresh = await self._db(PatchDeploymentActivities.request_patched_inventories,
                                 PatchedInventoryInput(params.deployment_id, host_ids))
        silent = await self._await_jobs(refresh.job_ids, timeout_seconds)
        answered = [j for j in refresh.job_ids if j not in silent]
        await workflow.execute_activity_method(
            PatchDeploymentActivities.sync_patched_hosts,
            LifecycleInput(params.deployment_id, host_ids, answered, silent),
            start_to_close_timeout=timedelta(minutes=10), retry_policy=retries.DATABASE)
