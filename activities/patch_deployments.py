"""Activities of PatchDeploymentWorkflow: prepare (plan hosts into rings, open the change record), the stored
decision, each ring's kill-switch check and install jobs, its outcome, the soak, fresh inventories and the
lifecycle sync, and the end. Each is idempotent: keyed by deployment, ring and host rows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from config import Settings
from domain.errors import NotFound
from domain.patching import FINISHED, Ring
from domain.remediation import DECISIONS
from orchestration.types import (
    DeploymentInput,
    DeploymentRef,
    FinishedDeployment,
    FinishInput,
    InventoryRefresh,
    LifecycleInput,
    LifecycleResult,
    PatchedInventoryInput,
    PreparedDeployment,
    RingInput,
    RingOutcome,
    RingResultInput,
    RingStart,
    SoakInput,
    StoredDecision,
)
from services import patch_deployments as deployments
from services import vuln_matching


def _uuids(values: list[str]) -> list[uuid.UUID]:
    return [uuid.UUID(v) for v in values]


class PatchDeploymentActivities:
    def __init__(self, sessionmaker: async_sessionmaker, settings: Settings):
        self.sessionmaker = sessionmaker
        self.settings = settings

    def all(self) -> list:
        return [self.prepare_deployment, self.read_deployment_decision, self.begin_ring, self.record_ring,
                self.start_soak, self.request_patched_inventories, self.sync_patched_hosts, self.finish_deployment]

    async def _locked(self, session, deployment_id: str):
        try:
            return await deployments.locked(session, uuid.UUID(deployment_id))
        except NotFound as exc:
            raise ApplicationError(f"patch deployment {deployment_id} does not exist", type="DeploymentMissing",
                                   non_retryable=True) from exc

    @activity.defn(name="prepare_deployment")
    async def prepare_deployment(self, params: DeploymentInput) -> PreparedDeployment:
        """Plan the hosts into rings and open the change record when approval is needed (both once)."""
        now = datetime.now(UTC)
        async with self.sessionmaker() as session, session.begin():
            deployment = await self._locked(session, params.deployment_id)
            prepared = PreparedDeployment(
                finished=deployment.status in FINISHED, status=deployment.status, reason=deployment.reason,
                soak_minutes=[Ring.of(r).soak_minutes for r in deployment.rings],
                next_ring=deployment.current_ring or 0,
                approval_timeout_seconds=params.approval_timeout_seconds or self.settings.approval_timeout_seconds,
                agent_timeout_seconds=params.agent_timeout_seconds or self.settings.agent_result_timeout_seconds,
                inventory_timeout_seconds=(params.inventory_timeout_seconds
                                           or self.settings.vuln_inventory_timeout_seconds),
            )
            if prepared.finished:
                return prepared
            deployment.started_at = deployment.started_at or now
            if await deployments.plan_hosts(session, deployment) == 0:
                await deployments.finish(session, deployment, "completed", "no host needs these patches", now)
                prepared.finished, prepared.status, prepared.reason = True, deployment.status, deployment.reason
                return prepared
            if deployment.needs_approval:
                change = await deployments.ensure_change_record(session, deployment)
                prepared.needs_approval = True
                if change.status in DECISIONS:
                    prepared.decision = change.status
            return prepared

    @activity.defn(name="read_deployment_decision")
    async def read_deployment_decision(self, params: DeploymentRef) -> StoredDecision:
        """What the API stored: the change's decision, or `cancelled` when someone asked to cancel."""
        async with self.sessionmaker() as session, session.begin():
            deployment = await self._locked(session, params.deployment_id)
            if deployment.cancel_requested_by is not None:
                return StoredDecision("cancelled")
            change = await deployments.change_of(session, deployment.id)
        return StoredDecision(change.status if change is not None and change.status in DECISIONS else None)

    @activity.defn(name="begin_ring")
    async def begin_ring(self, params: RingInput) -> RingStart:
        async with self.sessionmaker() as session, session.begin():
            deployment = await self._locked(session, params.deployment_id)
            stop, job_ids = await deployments.begin_ring(session, deployment, params.ring, datetime.now(UTC))
            return RingStart(proceed=stop is None, status=deployment.status, reason=stop,
                             job_ids=[str(j) for j in job_ids])

    @activity.defn(name="record_ring")
    async def record_ring(self, params: RingResultInput) -> RingOutcome:
        async with self.sessionmaker() as session, session.begin():
            deployment = await self._locked(session, params.deployment_id)
            outcome = await deployments.record_ring(session, deployment, params.ring, _uuids(params.silent_job_ids),
                                                    datetime.now(UTC))
        return RingOutcome(total=outcome.total, failed=outcome.failed, halt=outcome.halt,
                           patched_host_ids=[str(h) for h in outcome.host_ids])

    @activity.defn(name="start_soak")
    async def start_soak(self, params: SoakInput) -> None:
        async with self.sessionmaker() as session, session.begin():
            deployment = await self._locked(session, params.deployment_id)
            if deployment.status not in FINISHED:
                deployment.status = "soaking"
                deployment.soak_until = datetime.now(UTC) + timedelta(seconds=params.seconds)

    @activity.defn(name="request_patched_inventories")
    async def request_patched_inventories(self, params: PatchedInventoryInput) -> InventoryRefresh:
        async with self.sessionmaker() as session, session.begin():
            job_ids = await deployments.request_inventories(session, _uuids(params.host_ids), datetime.now(UTC))
        return InventoryRefresh(job_ids=[str(j) for j in job_ids])

    @activity.defn(name="sync_patched_hosts")
    async def sync_patched_hosts(self, params: LifecycleInput) -> LifecycleResult:
        """Store the fresh inventories, then resolve what they show fixed (vulnerability, alert, incident)."""
        now = datetime.now(UTC)
        async with self.sessionmaker() as session, session.begin():
            deployment = await self._locked(session, params.deployment_id)
            await vuln_matching.store_inventories(session, _uuids(params.completed_job_ids),
                                                  _uuids(params.timed_out_job_ids))
            resolved = await deployments.resolve_patched(session, deployment.org_id, _uuids(params.host_ids), now)
        return LifecycleResult(resolved=resolved)

    @activity.defn(name="finish_deployment")
    async def finish_deployment(self, params: FinishInput) -> FinishedDeployment:
        """End the deployment as `status` (a finished one keeps its status). A cancel that nobody stored is
        ignored: the signal alone carries no authority."""
        async with self.sessionmaker() as session, session.begin():
            deployment = await self._locked(session, params.deployment_id)
            if params.only_if_cancel_requested and deployment.cancel_requested_by is None \
                    and deployment.status not in FINISHED:
                return FinishedDeployment(status=deployment.status, finished=False)
            await deployments.finish(session, deployment, params.status, params.reason, datetime.now(UTC))
            return FinishedDeployment(status=deployment.status, finished=True, reason=deployment.reason)
