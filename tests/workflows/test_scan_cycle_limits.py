"""The scan cycle as the manual states it: its schedule (every 30 minutes, overlap SKIP, made when the worker
starts), the per-tick batch limit, and host overrides on the scheduled path."""

from __future__ import annotations

import asyncio
import gc
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from temporalio.client import (
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
)
from temporalio.service import RPCError, RPCStatusCode

import worker
from agent.fleet import Fleet, Outcomes
from config import get_settings
from models import CompliancePolicy, ComplianceScan, Host, HostPolicyStatus
from orchestration import ids
from orchestration.types import CycleInput, CycleResult, ScanBatchResult
from tests.e2e.test_scan_end_to_end import setup_org
from tests.factories import make_host, make_org
from tests.stack import eventually, running_stack, system_template_id
from workflows.scan_cycle import ScanCycleWorkflow

WEEK = 7 * 24 * 3600  # agents in these tests never answer; their scans must not time out between ticks
CYCLE_SETTINGS = {"temporal_search_attributes": False, "agent_result_timeout_seconds": WEEK}


# The schedule, made by the worker's entry point

async def start_and_stop_the_worker(env, db_url: str, monkeypatch, queue: str) -> None:
    """Run `worker.main()` as `python worker.py` would (settings from the environment), and stop it the way
    SIGTERM does once it has installed its signal handlers (it ensures the schedule before that)."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("TEMPORAL_ADDRESS", env.client.service_client.config.target_host)
    monkeypatch.setenv("TEMPORAL_TASK_QUEUE", queue)
    monkeypatch.setenv("ENVIRONMENT", "test")
    for default in ("TEMPORAL_SCHEDULE_ENABLED", "SCAN_CYCLE_MINUTES", "TEMPORAL_NAMESPACE"):
        monkeypatch.delenv(default, raising=False)
    get_settings.cache_clear()
    loop = asyncio.get_running_loop()
    stops = []
    # The process's real signal handlers stay untouched: the test holds what SIGTERM would call.
    monkeypatch.setattr(loop, "add_signal_handler", lambda sig, callback, *args: stops.append(callback))
    threshold = gc.get_threshold()
    running = asyncio.create_task(worker.main())
    try:
        await eventually(lambda: asyncio.sleep(0, result=bool(stops) or running.done()), timeout=30)
        assert not running.done(), running.exception()
        for stop in stops:
            stop()
        await asyncio.wait_for(running, 30)
    finally:
        running.cancel()
        gc.unfreeze()
        gc.set_threshold(*threshold)
        get_settings.cache_clear()


async def delete_schedule(env) -> None:
    try:
        await env.client.get_schedule_handle(ids.SCAN_CYCLE_SCHEDULE).delete()
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise


def assert_is_the_scan_cycle(schedule: Schedule, queue: str) -> None:
    assert [i.every for i in schedule.spec.intervals] == [timedelta(minutes=30)]
    assert schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
    assert schedule.policy.catchup_window == timedelta(minutes=15)
    assert isinstance(schedule.action, ScheduleActionStartWorkflow)
    assert schedule.action.workflow == ids.SCAN_CYCLE_WORKFLOW and schedule.action.task_queue == queue


async def test_worker_start_creates_the_scan_cycle_schedule_every_30_minutes_overlap_skip(
        dev_env, db_url, monkeypatch):
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    await delete_schedule(dev_env)
    try:
        await start_and_stop_the_worker(dev_env, db_url, monkeypatch, queue)
        description = await dev_env.client.get_schedule_handle(ids.SCAN_CYCLE_SCHEDULE).describe()
    finally:
        await delete_schedule(dev_env)
    assert_is_the_scan_cycle(description.schedule, queue)


async def test_worker_start_restores_a_changed_scan_cycle_schedule(dev_env, db_url, monkeypatch):
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    await delete_schedule(dev_env)
    stale = Schedule(
        action=ScheduleActionStartWorkflow(ids.SCAN_CYCLE_WORKFLOW, CycleInput(), id=ids.SCAN_CYCLE,
                                           task_queue="an-old-queue"),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(hours=2))]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.ALLOW_ALL),
    )
    await dev_env.client.create_schedule(ids.SCAN_CYCLE_SCHEDULE, stale)
    try:
        await start_and_stop_the_worker(dev_env, db_url, monkeypatch, queue)
        description = await dev_env.client.get_schedule_handle(ids.SCAN_CYCLE_SCHEDULE).describe()
    finally:
        await delete_schedule(dev_env)
    assert_is_the_scan_cycle(description.schedule, queue)


# The per-tick batch limit

async def linux_policy(db, org, **values) -> CompliancePolicy:
    policy = CompliancePolicy(org_id=org.id, os_type="linux", template_id=await system_template_id(db), **values)
    db.add(policy)
    await db.flush()
    return policy


async def scanned(db, policy: CompliancePolicy, host: Host, ago: timedelta) -> None:
    """The host's latest completed scan under the policy ended `ago`."""
    at = datetime.now(UTC) - ago
    scan = ComplianceScan(org_id=policy.org_id, host_id=host.id, policy_id=policy.id, template_id=policy.template_id,
                          template_version=1, scan_type="scheduled", status="completed", started_at=at,
                          completed_at=at)
    db.add(scan)
    await db.flush()
    db.add(HostPolicyStatus(host_id=host.id, policy_id=policy.id, org_id=policy.org_id, scan_id=scan.id,
                            template_id=policy.template_id, score=50.0, last_completed_at=at))
    await db.flush()


async def tick(stack, name: str) -> CycleResult:
    return await stack.client.execute_workflow(ScanCycleWorkflow.run, CycleInput(tick=name),
                                               id=f"scan-cycle-{name}", task_queue=stack.settings.temporal_task_queue)


async def planned_hosts(db, tick_name: str) -> set[uuid.UUID]:
    return set(await db.scalars(select(ComplianceScan.host_id).where(
        ComplianceScan.scan_type == "scheduled", ComplianceScan.workflow_id.like(ids.scan_batches_of_tick(tick_name)))))


async def end_batches(stack, db) -> None:
    """Nobody answers these scans: end their batches before the worker stops rather than leave them waiting."""
    waiting = set(await db.scalars(select(ComplianceScan.workflow_id).where(
        ComplianceScan.scan_type == "scheduled", ComplianceScan.status.in_(("queued", "running")))))
    for workflow_id in waiting:
        await stack.client.get_workflow_handle(workflow_id).terminate("test over")


async def test_each_tick_queues_at_most_the_batch_size_longest_unscanned_first(
        skipping_env, db_url, app_factory, db):
    async with running_stack(skipping_env, db_url, app_factory, **CYCLE_SETTINGS) as stack:
        org = await make_org(db)
        policy = await linux_policy(db, org, batch_size=3, scan_interval_hours=24)
        never = [await make_host(db, org) for _ in range(2)]
        by_age = {days: await make_host(db, org) for days in (2, 3, 4)}
        for days, host in by_age.items():
            await scanned(db, policy, host, timedelta(days=days))
        fresh = await make_host(db, org)
        await scanned(db, policy, fresh, timedelta(hours=1))
        await db.commit()

        first = await tick(stack, "t1")
        assert (first.scans_planned, first.batches_started) == (3, 1)
        assert await planned_hosts(db, "t1") == {never[0].id, never[1].id, by_age[4].id}

        # The hosts left over are the next tick's; the ones still being scanned are not planned twice.
        second = await tick(stack, "t2")
        assert second.scans_planned == 2
        assert await planned_hosts(db, "t2") == {by_age[3].id, by_age[2].id}
        await end_batches(stack, db)


async def test_tick_raises_the_batch_size_when_the_interval_could_not_cover_the_due_hosts(
        skipping_env, db_url, app_factory, db):
    async with running_stack(skipping_env, db_url, app_factory, **CYCLE_SETTINGS) as stack:
        org = await make_org(db)
        # A 1-hour interval is two 30-minute ticks: five due hosts need three per tick, whatever batch_size says.
        policy = await linux_policy(db, org, batch_size=1, scan_interval_hours=1)
        for _ in range(5):
            await make_host(db, org)
        await db.commit()

        result = await tick(stack, "t1")

        assert result.scans_planned == 3
        assert len(await planned_hosts(db, "t1")) == 3
        await end_batches(stack, db)
        stored = await db.scalar(select(CompliancePolicy.batch_size).where(CompliancePolicy.id == policy.id))
        assert stored == 1  # the raise is per tick; the policy keeps its setting


# Host overrides, scheduled path (the on-demand path: tests/api/test_manual_gaps.py)

async def test_scheduled_scan_of_an_overridden_host_uses_the_override_template(
        skipping_env, db_url, app_factory, db):
    async with running_stack(skipping_env, db_url, app_factory, temporal_search_attributes=False) as stack:
        org, headers, token, policy = await setup_org(stack, db)
        cis, stig = uuid.UUID(policy["template_id"]), await system_template_id(db, "stig-linux")
        fleet = Fleet(stack.api, "http://test", Outcomes(fail_rate=0.3))
        web, legacy = await fleet.enroll(2, token, prefix="sched")
        override = await stack.api.post(f"/api/v1/compliance/policies/{policy['id']}/overrides", headers=headers,
                                        json={"host_id": legacy.host_id, "template_id": str(stig)})
        assert override.status_code == 201, override.text

        fleet.start(wait=1)
        try:
            result = await tick(stack, "t1")
            assert result.scans_planned == 2
            batch = ids.scan_batch(policy["id"], "t1", 0)
            outcome = await stack.client.get_workflow_handle(batch, result_type=ScanBatchResult).result()
        finally:
            await fleet.stop()
        assert outcome.completed == 2

        scans = {str(s.host_id): s for s in await db.scalars(
            select(ComplianceScan).where(ComplianceScan.scan_type == "scheduled"))}
        assert scans[legacy.host_id].template_id == stig and scans[web.host_id].template_id == cis
        for host, template_id in ((legacy, stig), (web, cis)):
            body = (await stack.api.get(f"/api/v1/compliance/scans/{scans[host.host_id].id}",
                                        headers=headers)).json()
            assert body["status"] == "completed"
            expected = {r["rule_id"] for r in (await stack.api.get(f"/api/v1/compliance/templates/{template_id}",
                                                                   headers=headers)).json()["checks"]
                        if r["enabled"]}
            assert {r["rule_id"] for r in body["results"]} == expected

