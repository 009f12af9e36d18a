"""Scheduler at scale: 100,000 hosts over 10 policies; plan one tick, then open every scan and job through Temporal.

    .venv/bin/python -m bench.scheduler [--hosts 100000] [--policies 10] [--not-due 0.2] [--workers 1]

1. Planning (target ≤ 1 s): the due-host selection of every policy (activities.scan_store's due-host query: the
   count and the ordered, limited selection), then plan_policy in full — selection plus the INSERT of the scans
   and their agent jobs — in a transaction that is rolled back; the two are printed separately.
2. One tick through ScanCycleWorkflow with `--workers` worker processes (`worker.py`, as deployed, on one task
   queue) and no agents (target ≤ 15 s): from the cycle's start until every scan record and agent job is open
   (agent_jobs == planned scans), and until every batch has its first agent waits in flight (task tokens stored);
   the batch workflows are then terminated. From the histories: the longest workflow task of the cycle and every
   batch, from WORKFLOW_TASK_STARTED to WORKFLOW_TASK_COMPLETED as the server recorded them (target ≤ 2 s), with its
   command count; the longest wait of a task for a worker (scheduled to started); workflow tasks that failed (not
   counting those the termination cut short); the largest payload and the most events of any one run (Temporal's
   limits: 2 MB per payload, 50k events per run).
Baseline in the same run: a plain `SELECT count(*)` over the hosts table, and the same server's trivial
one-activity workflows/s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text
from temporalio.api.enums.v1 import EventType, TaskQueueType, WorkflowTaskFailedCause
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

from bench.harness import bench_settings, dev_server, fresh_database, sessionmaker_for, spawn
from bench.trivial import trivial_workflows_per_second
from models import CompliancePolicy, ComplianceTemplate, Organization
from orchestration.types import CycleInput
from services.scans import _DUE_HOSTS, plan_policy, policy_templates
from workflows.scan_batch import FIRST_AGENT_WAITS
from workflows.scan_cycle import ScanCycleWorkflow

OS_TYPES = ("linux", "windows", "bsd")
PAYLOAD = "temporal.api.common.v1.Payload"


async def arrange(sessionmaker, hosts: int, policies: int, not_due: float) -> list[CompliancePolicy]:
    """`policies` policies (one per org and OS type) sharing `hosts` online hosts; a share already scanned."""
    async with sessionmaker() as session, session.begin():
        templates = {t.os_type: t.id for t in await session.scalars(select(ComplianceTemplate).where(
            ComplianceTemplate.content_key.in_([f"cis-{os}-l1" for os in OS_TYPES])))}
        orgs = [Organization(name=f"sched-{n}") for n in range((policies + len(OS_TYPES) - 1) // len(OS_TYPES))]
        session.add_all(orgs)
        await session.flush()
        created = [CompliancePolicy(org_id=orgs[n // len(OS_TYPES)].id, os_type=OS_TYPES[n % len(OS_TYPES)],
                                    template_id=templates[OS_TYPES[n % len(OS_TYPES)]], batch_size=10_000)
                   for n in range(policies)]
        session.add_all(created)
        await session.flush()
        per_policy = hosts // policies
        for index, policy in enumerate(created):
            await session.execute(text("""
                INSERT INTO hosts (id, org_id, hostname, ip_address, os_type, last_seen, created_at, updated_at)
                SELECT gen_random_uuid(), :org, 'sched-' || :index || '-' || g, '10.0.0.1', :os, now(), now(), now()
                FROM generate_series(1, :count) g
            """), {"org": policy.org_id, "index": index, "os": policy.os_type, "count": per_policy})
            # Hosts scanned an hour ago are not due: a completed scan and its host_policy_status row.
            await session.execute(text("""
                WITH picked AS (
                    SELECT id AS host_id, gen_random_uuid() AS scan_id FROM hosts
                    WHERE org_id = :org AND os_type = :os ORDER BY id LIMIT :count
                ), scans AS (
                    INSERT INTO compliance_scans (id, org_id, host_id, policy_id, template_id, template_version,
                                                  scan_type, status, result_data, total, passed, failed, errors,
                                                  skipped, waived, score, started_at, completed_at, created_at,
                                                  updated_at)
                    SELECT scan_id, :org, host_id, :policy, :template, 1, 'scheduled', 'completed', '{}', 10, 9, 1,
                           0, 0, 0, 90, now() - interval '1 hour', now() - interval '1 hour', now(), now()
                    FROM picked
                )
                INSERT INTO host_policy_status (host_id, policy_id, org_id, scan_id, template_id, score, total,
                                                passed, failed, errors, skipped, waived, last_completed_at)
                SELECT host_id, :policy, :org, scan_id, :template, 90, 10, 9, 1, 0, 0, 0, now() - interval '1 hour'
                FROM picked
            """), {"org": policy.org_id, "os": policy.os_type, "policy": policy.id, "template": policy.template_id,
                   "count": int(per_policy * not_due)})
    async with sessionmaker() as session, session.begin():
        await session.execute(text("ANALYZE"))
    return created


async def time_planning(sessionmaker, settings) -> tuple[float, float, int]:
    """(selection seconds, selection + insert seconds, due hosts), over every enabled policy; nothing kept."""
    now = datetime.now(UTC)
    async with sessionmaker() as session, session.begin():
        policies = list(await session.scalars(select(CompliancePolicy).where(CompliancePolicy.enabled)))
        templates = await policy_templates(session, policies)
        started = time.perf_counter()
        due_total = 0
        for policy in policies:
            params = {"policy_id": policy.id, "org_id": policy.org_id, "os_type": policy.os_type,
                      "seen_since": now - timedelta(hours=settings.schedule_seen_within_hours),
                      "due_before": now - timedelta(hours=policy.scan_interval_hours)}
            due_total += await session.scalar(text(f"SELECT count(*) {_DUE_HOSTS}"), params)
            await session.execute(text(f"""
                SELECT h.id {_DUE_HOSTS} ORDER BY hps.last_completed_at NULLS FIRST, h.id LIMIT :limit
            """), params | {"limit": policy.batch_size})
        selection = time.perf_counter() - started
        started = time.perf_counter()
        for policy in policies:
            await plan_policy(session, policy, templates[policy.id], "rehearsal", now,
                              cycle_minutes=settings.scan_cycle_minutes,
                              seen_within=timedelta(hours=settings.schedule_seen_within_hours),
                              workflow_chunk=settings.max_scans_per_batch_workflow)
        full = time.perf_counter() - started
        await session.rollback()
    return selection, full, due_total


def _payload_sizes(message):
    for descriptor, value in message.ListFields():
        if descriptor.message_type is None:
            continue
        if descriptor.message_type.GetOptions().map_entry:
            value_field = descriptor.message_type.fields_by_name["value"]
            items = list(value.values()) if value_field.message_type is not None else []
        else:
            items = [value] if hasattr(value, "DESCRIPTOR") else list(value)
        for item in items:
            if item.DESCRIPTOR.full_name == PAYLOAD:
                yield item.ByteSize()
            else:
                yield from _payload_sizes(item)


@dataclass
class RunFigures:
    events: int
    largest_payload: int
    longest_task: float  # seconds from WORKFLOW_TASK_STARTED to WORKFLOW_TASK_COMPLETED
    longest_task_commands: int  # the commands that task completed with
    longest_queued: float  # seconds from WORKFLOW_TASK_SCHEDULED to WORKFLOW_TASK_STARTED
    failed_tasks: list[str]  # why workflow tasks failed or timed out (the deadlock detector fails a task at 2 s)
    plan_seconds: float | None  # the plan_scan_cycle activity, when this run has it


async def history_figures(client, workflow_id: str) -> RunFigures:
    events = [e async for e in client.get_workflow_handle(workflow_id).fetch_history_events()]
    times = {e.event_id: e.event_time.ToDatetime() for e in events}
    commands = Counter(_completing_task(e) for e in events)
    longest_task = longest_queued = 0.0
    longest_commands = 0
    failed = []
    plan_seconds, plan_started, scheduled = None, None, {}
    for event in events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            queued = times[event.event_id] - times[event.workflow_task_started_event_attributes.scheduled_event_id]
            longest_queued = max(longest_queued, queued.total_seconds())
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            took = times[event.event_id] - times[event.workflow_task_completed_event_attributes.started_event_id]
            if took.total_seconds() > longest_task:
                longest_task, longest_commands = took.total_seconds(), commands[event.event_id]
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
            attributes = event.workflow_task_failed_event_attributes
            if attributes.cause == WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_FORCE_CLOSE_COMMAND:
                continue  # the bench terminated the workflow while this task ran
            failed.append(f"{workflow_id}: {WorkflowTaskFailedCause.Name(attributes.cause)} "
                          f"{attributes.failure.message[:120]}".strip())
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
            failed.append("timed out")
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            scheduled[event.event_id] = event.activity_task_scheduled_event_attributes.activity_type.name
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            if scheduled.get(event.activity_task_started_event_attributes.scheduled_event_id) == "plan_scan_cycle":
                plan_started = times[event.event_id]
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            attributes = event.activity_task_completed_event_attributes
            if scheduled.get(attributes.scheduled_event_id) == "plan_scan_cycle" and plan_started:
                plan_seconds = (times[event.event_id] - plan_started).total_seconds()
    largest = max((size for e in events for size in _payload_sizes(e)), default=0)
    return RunFigures(len(events), largest, longest_task, longest_commands, longest_queued, failed, plan_seconds)


def _completing_task(event) -> int | None:
    """The WORKFLOW_TASK_COMPLETED event whose command recorded this event, if a command did."""
    attributes = getattr(event, event.WhichOneof("attributes"))
    return getattr(attributes, "workflow_task_completed_event_id", None)


async def start_workers(client, settings, count: int) -> list:
    """`count` worker processes on the settings' task queue, each polling before this returns."""
    workers = [spawn([sys.executable, "worker.py"], settings, f"scheduler-worker-{n}") for n in range(count)]
    request = DescribeTaskQueueRequest(namespace=client.namespace,
                                       task_queue=TaskQueue(name=settings.temporal_task_queue),
                                       task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW)
    deadline = time.perf_counter() + 60
    while len((await client.workflow_service.describe_task_queue(request)).pollers) < count:
        if time.perf_counter() > deadline or any(w.poll() is not None for w in workers):
            stop_workers(workers)
            raise RuntimeError("worker processes did not start polling; see .data/scheduler-worker-*.log")
        await asyncio.sleep(0.2)
    return workers


def stop_workers(workers: list) -> None:
    for worker in workers:
        worker.terminate()
    for worker in workers:
        worker.wait(timeout=30)


async def count_until(sessionmaker, query: str, target: int, started: float, limit: float = 600) -> tuple[int, float]:
    """Poll `query` until it reaches `target` (or `limit` seconds pass); (last count, seconds since `started`)."""
    count = 0
    async with sessionmaker() as session:
        while count < target and time.perf_counter() - started < limit:
            await asyncio.sleep(0.1)
            count = await session.scalar(text(query)) or 0
            await session.commit()
    return count, time.perf_counter() - started


async def sample(sessionmaker, query: str, started: float, samples: list[tuple[float, int]]) -> None:
    """Append (seconds since `started`, `query`'s count) every 0.1 s until cancelled."""
    async with sessionmaker() as session:
        while True:
            count = await session.scalar(text(query)) or 0
            await session.commit()
            samples.append((time.perf_counter() - started, count))
            await asyncio.sleep(0.1)


async def run(hosts: int, policies: int, not_due: float, workers: int) -> None:
    async with fresh_database() as (db_url, engine), dev_server() as env:
        settings = bench_settings(db_url, env)
        sessionmaker = sessionmaker_for(engine)
        await arrange(sessionmaker, hosts, policies, not_due)
        async with sessionmaker() as session:
            started = time.perf_counter()
            await session.scalar(text("SELECT count(*) FROM hosts"))
            count_seconds = time.perf_counter() - started
        selection, full, due = await time_planning(sessionmaker, settings)

        processes = await start_workers(env.client, settings, workers)
        try:
            started = time.perf_counter()
            handle = await env.client.start_workflow(
                ScanCycleWorkflow.run, CycleInput(tick="bench", agent_timeout_seconds=3600), id="scan-cycle-bench",
                task_queue=settings.temporal_task_queue)
            jobs: list[tuple[float, int]] = []
            sampling = asyncio.create_task(sample(sessionmaker, "SELECT count(*) FROM agent_jobs", started, jobs))
            result = await handle.result()
            planned_at = time.perf_counter() - started
            while not jobs or jobs[-1][1] < result.scans_planned and jobs[-1][0] < 600:
                await asyncio.sleep(0.1)
            sampling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampling
            tick_seconds, opened = next(((t, n) for t, n in jobs if n >= result.scans_planned), jobs[-1])
            async with sessionmaker() as session:
                batches = (await session.execute(text("""
                    SELECT workflow_id, count(*) FROM compliance_scans WHERE workflow_id LIKE 'scan-batch-%'
                    GROUP BY workflow_id
                """))).all()
            waits = sum(min(FIRST_AGENT_WAITS, scans) for _, scans in batches)
            waiting, settled_seconds = await count_until(
                sessionmaker, "SELECT count(*) FROM agent_jobs WHERE task_token IS NOT NULL", waits, started)
            for batch_id, _ in batches:
                await env.client.get_workflow_handle(batch_id).terminate("benchmark done")
        finally:
            stop_workers(processes)
        figures = {w: await history_figures(env.client, w) for w in ["scan-cycle-bench", *(b for b, _ in batches)]}
        trivial_rate = await trivial_workflows_per_second(env.client, 200)

    def most(field: str) -> tuple[str, RunFigures]:
        return max(figures.items(), key=lambda item: getattr(item[1], field))

    plan_in_workflow = figures["scan-cycle-bench"].plan_seconds
    longest_task, longest_queued = most("longest_task"), most("longest_queued")
    most_events, largest = most("events"), most("largest_payload")
    print(f"hosts / policies              {hosts:,} / {policies} ({due:,} due, {int(not_due * 100)} % scanned 1 h ago)")
    print(f"due-host selection            {selection * 1000:.0f} ms for all policies  (target <= 1 s)")
    print(f"selection + INSERT of scans   {full * 1000:.0f} ms  (INSERT of scans and jobs alone "
          f"~{(full - selection) * 1000:.0f} ms)")
    print(f"worker processes              {workers}")
    if plan_in_workflow is not None:
        print(f"plan_scan_cycle activity      {plan_in_workflow * 1000:.0f} ms (in the cycle workflow, from history)")
    print(f"cycle workflow done           {planned_at:.2f} s ({result.batches_started} batch workflows, "
          f"{result.scans_planned:,} scans planned)")
    print(f"all scans and jobs opened     {tick_seconds:.2f} s ({opened:,} agent jobs)  (target <= 15 s)")
    print(f"all agent waits in flight     {settled_seconds:.2f} s ({waiting:,} of {waits:,} task tokens stored)")
    print(f"longest workflow task         {longest_task[1].longest_task:.2f} s ({longest_task[0]}, "
          f"{longest_task[1].longest_task_commands} commands)  (target <= 2 s)")
    print(f"longest wait for a worker     {longest_queued[1].longest_queued:.2f} s ({longest_queued[0]})")
    failures = [failure for f in figures.values() for failure in f.failed_tasks]
    print(f"failed workflow tasks         {len(failures)}{f' (first: {failures[0]})' if failures else ''}")
    print(f"most events in one run        {most_events[1].events:,} ({most_events[0]})  (limit 50,000)")
    print(f"largest payload               {largest[1].largest_payload:,} bytes ({largest[0]})  (limit 2 MB)")
    print(f"baseline: SELECT count(*)     {count_seconds * 1000:.0f} ms over the hosts table")
    print(f"baseline: trivial workflows/s {trivial_rate:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=100_000)
    parser.add_argument("--policies", type=int, default=10)
    parser.add_argument("--not-due", type=float, default=0.2)
    parser.add_argument("--workers", type=int, default=1, help="worker processes on the task queue")
    args = parser.parse_args()
    asyncio.run(run(args.hosts, args.policies, args.not_due, args.workers))


if __name__ == "__main__":
    main()
