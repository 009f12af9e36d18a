"""PatchDeploymentWorkflow on the time-skipping server, its activities replaced by same-name functions: rings in
order with a durable soak between them, a halting ring, cancel by signal (and a bare signal that changes
nothing), the kill switch, and the approval wait with its decision, rejection and expiry."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from temporalio import activity
from temporalio.worker import Worker

from domain.patching import ring_halts
from orchestration import ids
from orchestration.types import (
    AwaitJobInput,
    Decision,
    DeploymentInput,
    DeploymentRef,
    FinishedDeployment,
    FinishInput,
    InventoryRefresh,
    JobDone,
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
from workflows.patch_deployment import PatchDeploymentWorkflow

HOSTS_PER_RING = 4


@dataclass
class FakeDeployment:
    """What the replaced activities read and write instead of the database."""

    soak_minutes: list[int] = field(default_factory=lambda: [0, 0])
    max_failure_rate: float = 0.25
    failures: dict[int, int] = field(default_factory=dict)
    paused_automatic: bool = False
    needs_approval: bool = False
    approval_timeout_seconds: int = 7 * 24 * 3600
    decision: str | None = None
    cancel_stored: bool = False
    rings_begun: list[tuple[int, datetime]] = field(default_factory=list)
    soaks: list[tuple[int, int]] = field(default_factory=list)
    synced: list[list[str]] = field(default_factory=list)
    finished: list[tuple[str, str | None]] = field(default_factory=list)
    decisions_read: int = 0

    def activities(self) -> list:
        @activity.defn(name="prepare_deployment")
        async def prepare_deployment(params: DeploymentInput) -> PreparedDeployment:
            return PreparedDeployment(
                finished=False, status="pending_approval" if self.needs_approval else "running",
                needs_approval=self.needs_approval, soak_minutes=self.soak_minutes,
                approval_timeout_seconds=self.approval_timeout_seconds, agent_timeout_seconds=5,
                inventory_timeout_seconds=5)

        @activity.defn(name="read_deployment_decision")
        async def read_deployment_decision(params: DeploymentRef) -> StoredDecision:
            self.decisions_read += 1
            return StoredDecision("cancelled" if self.cancel_stored else self.decision)

        @activity.defn(name="begin_ring")
        async def begin_ring(params: RingInput) -> RingStart:
            if self.paused_automatic:
                self.finished.append(("skipped_paused", "automation_paused"))
                return RingStart(proceed=False, status="skipped_paused", reason="automation_paused")
            # The time the server schedules the activity: the workflow's clock, skipped timers included.
            self.rings_begun.append((params.ring, activity.info().current_attempt_scheduled_time))
            return RingStart(proceed=True, status="running",
                             job_ids=[f"job-{params.ring}-{i}" for i in range(HOSTS_PER_RING)])

        @activity.defn(name="record_ring")
        async def record_ring(params: RingResultInput) -> RingOutcome:
            failed = self.failures.get(params.ring, 0)
            return RingOutcome(total=HOSTS_PER_RING, failed=failed,
                               halt=ring_halts(failed, HOSTS_PER_RING, self.max_failure_rate),
                               patched_host_ids=[f"host-{params.ring}-{i}" for i in range(HOSTS_PER_RING - failed)])

        @activity.defn(name="start_soak")
        async def start_soak(params: SoakInput) -> None:
            self.soaks.append((params.ring, params.seconds))

        @activity.defn(name="request_patched_inventories")
        async def request_patched_inventories(params: PatchedInventoryInput) -> InventoryRefresh:
            return InventoryRefresh(job_ids=[f"inventory-{h}" for h in params.host_ids])

        @activity.defn(name="sync_patched_hosts")
        async def sync_patched_hosts(params: LifecycleInput) -> LifecycleResult:
            self.synced.append(params.host_ids)
            return LifecycleResult(resolved=len(params.completed_job_ids))

        @activity.defn(name="finish_deployment")
        async def finish_deployment(params: FinishInput) -> FinishedDeployment:
            if params.only_if_cancel_requested and not self.cancel_stored:
                return FinishedDeployment(status="soaking", finished=False)
            self.finished.append((params.status, params.reason))
            return FinishedDeployment(status=params.status, finished=True, reason=params.reason)

        return [prepare_deployment, read_deployment_decision, begin_ring, record_ring, start_soak,
                request_patched_inventories, sync_patched_hosts, finish_deployment]


@activity.defn(name="await_agent_result")
async def await_agent_result(params: AwaitJobInput) -> JobDone:
    return JobDone(job_id=params.job_id, status="completed")


class Running:
    def __init__(self, env, fake: FakeDeployment):
        self.env, self.fake = env, fake
        self.queue = f"patch-{uuid.uuid4().hex[:8]}"
        self.workers = [
            Worker(env.client, task_queue=self.queue, workflows=[PatchDeploymentWorkflow],
                   activities=fake.activities()),
            Worker(env.client, task_queue=ids.agent_waits_queue(self.queue), activities=[await_agent_result]),
        ]

    async def __aenter__(self):
        for worker in self.workers:
            await worker.__aenter__()
        return self

    async def __aexit__(self, *exc):
        for worker in reversed(self.workers):
            await worker.__aexit__(*exc)

    async def start(self):
        deployment_id = str(uuid.uuid4())
        return await self.env.client.start_workflow(
            PatchDeploymentWorkflow.run, DeploymentInput(deployment_id=deployment_id, org_id=str(uuid.uuid4())),
            id=ids.patch_deployment(deployment_id), task_queue=self.queue)


async def until(probe, timeout: float = 10.0) -> None:
    """Wait (in real time, with the server's clock held) until the fake shows `probe()`."""
    for _ in range(int(timeout / 0.02)):
        if probe():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the workflow did not get there")


async def test_rings_run_in_order_with_a_durable_soak_between_them(skipping_env):
    fake = FakeDeployment(soak_minutes=[60, 24 * 60, 30])
    async with Running(skipping_env, fake) as running:
        result = await (await running.start()).result()
    assert (result.status, result.rings_run) == ("completed", 3)
    assert [ring for ring, _ in fake.rings_begun] == [0, 1, 2]
    (_, first), (_, second), (_, third) = fake.rings_begun
    assert second - first >= timedelta(minutes=60) and third - second >= timedelta(hours=24)
    assert third - first < timedelta(hours=26)  # no soak after the last ring, none invented in between
    assert fake.soaks == [(0, 3600), (1, 86400)]
    assert len(fake.synced) == 3 and fake.finished == [("completed", None)]


async def test_ring_over_its_failure_limit_halts_the_rollout(skipping_env):
    fake = FakeDeployment(soak_minutes=[10, 10, 10], failures={1: 2}, max_failure_rate=0.25)
    async with Running(skipping_env, fake) as running:
        result = await (await running.start()).result()
    assert (result.status, result.rings_run) == ("halted", 2)
    assert [ring for ring, _ in fake.rings_begun] == [0, 1]
    assert fake.finished == [("halted", "ring 2: 2 of 4 hosts failed, above its limit")]
    assert fake.synced[-1] == ["host-1-0", "host-1-1"]  # the hosts that did install are still synced


async def test_a_ring_at_its_failure_limit_goes_on(skipping_env):
    fake = FakeDeployment(failures={0: 1}, max_failure_rate=0.25)
    async with Running(skipping_env, fake) as running:
        result = await (await running.start()).result()
    assert result.status == "completed"


async def test_cancel_signal_during_the_soak_ends_the_deployment(skipping_env):
    fake = FakeDeployment(soak_minutes=[120, 0])
    async with Running(skipping_env, fake) as running:
        handle = await running.start()
        await until(lambda: fake.soaks)
        fake.cancel_stored = True  # what the API stores before it signals
        await handle.signal(ids.CANCEL, Decision())
        result = await handle.result()
    assert (result.status, result.rings_run) == ("cancelled", 1)
    assert [ring for ring, _ in fake.rings_begun] == [0]
    assert fake.finished == [("cancelled", "cancelled by request")]


async def test_a_cancel_signal_nobody_stored_changes_nothing(skipping_env):
    fake = FakeDeployment(soak_minutes=[120, 0])
    async with Running(skipping_env, fake) as running:
        handle = await running.start()
        await until(lambda: fake.soaks)
        await handle.signal(ids.CANCEL, Decision())
        result = await handle.result()
    assert result.status == "completed"
    assert [ring for ring, _ in fake.rings_begun] == [0, 1]


async def test_automatic_deployment_is_skipped_while_automation_is_paused(skipping_env):
    fake = FakeDeployment(paused_automatic=True)
    async with Running(skipping_env, fake) as running:
        result = await (await running.start()).result()
    assert (result.status, result.reason, result.rings_run) == ("skipped_paused", "automation_paused", 0)
    assert fake.rings_begun == [] and fake.synced == []


async def test_deployment_waits_for_the_stored_approval(skipping_env):
    fake = FakeDeployment(needs_approval=True)
    async with Running(skipping_env, fake) as running:
        handle = await running.start()
        async with skipping_env.time_skipping_unlocked():
            await skipping_env.sleep(timedelta(days=2))
        assert fake.rings_begun == []
        await handle.signal(ids.APPROVE, Decision())  # nothing stored yet: read, and waits on
        await until(lambda: fake.decisions_read == 1)
        assert fake.rings_begun == []
        fake.decision = "approved"
        await handle.signal(ids.APPROVE, Decision())
        result = await handle.result()
    assert result.status == "completed" and [r for r, _ in fake.rings_begun] == [0, 1]


async def test_rejected_or_expired_approval_cancels_the_deployment(skipping_env):
    rejected = FakeDeployment(needs_approval=True)
    async with Running(skipping_env, rejected) as running:
        handle = await running.start()
        rejected.decision = "rejected"
        await handle.signal(ids.REJECT, Decision())
        assert (await handle.result()).status == "cancelled"
    assert rejected.finished == [("cancelled", "the change was rejected")] and rejected.rings_begun == []

    expired = FakeDeployment(needs_approval=True, approval_timeout_seconds=3 * 24 * 3600)
    async with Running(skipping_env, expired) as running:
        result = await (await running.start()).result()
    assert (result.status, result.reason) == ("cancelled", "approval timed out")
    assert expired.decisions_read == 1  # read once more at the deadline


async def test_an_approval_whose_signal_was_lost_still_counts_at_the_deadline(skipping_env):
    fake = FakeDeployment(needs_approval=True, approval_timeout_seconds=24 * 3600, decision="approved")
    async with Running(skipping_env, fake) as running:
        result = await (await running.start()).result()
    assert result.status == "completed" and [r for r, _ in fake.rings_begun] == [0, 1]
