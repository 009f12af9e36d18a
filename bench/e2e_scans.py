"""End-to-end scans over real HTTP: the API (uvicorn) and worker(s) as separate processes, a simulated fleet of
N hosts talking to the API as reference agents do (long polls of 55 s, a heartbeat with the host's unchanged
facts once an hour, each result post carrying the next poll), and three scheduled ticks, back to back: the first
warms up (first scans of every host, worker caches); the second is warm, but follows the first, which is longer, so
agents whose long polls ran out waiting for it are still out of step (its figures are printed on one line); the
third is the steady state that is measured. A series of fleet sizes runs one after the other, each on a fresh
database and dev server.

    .venv/bin/python -m bench.e2e_scans [--hosts 250,500,1000,2000,5000] [--persistence memory|file|both]
                                        [--workers 1] [--api-workers 1]

For the steady tick it prints host scans/s (cycle start to last scan recorded), where the time went from each job's
opening (delivered, answered, recorded), what flowed per 5 s (jobs delivered, answers stored, scans recorded), each
5 s's recordings (how many, their scans, their wait for a worker and their run), the CPU of each part of the stack
over the tick (API, worker, this process as the fleet, Temporal, PostgreSQL), history events per host scan, the
agents' HTTP requests per host scan by kind, the API's CPU per host scan (all its processes, from /proc), the most
pooled connections the API and the worker had busy at once (pg_stat_activity, by application name), the HTTP 5xx
answers agents got, and the baseline measured on the same server after the run: N trivial one-activity workflows
(workflows/s; at most 500 client requests in flight, within the dev server's limits at any size). Targets (issue
19): scans/s >= 2x the baseline at 1,000 hosts, <= 1.2 requests per host scan, no 5xx, and 5,000 hosts within 20 %
of 500.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

import httpx
from sqlalchemy import text

from agent.__main__ import HEARTBEAT_SECONDS, POLL_WAIT
from agent.fleet import Fleet, Outcomes, own_connection
from bench.harness import (
    api_process,
    bench_settings,
    dev_server,
    fresh_database,
    run_one_tick,
    seed_bench_org,
    sessionmaker_for,
    spawn,
)
from bench.trivial import trivial_workflows_per_second
from worker import tune_garbage_collector

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
API_NAME, WORKER_NAME = "bench-api", "bench-worker"


def process_cpu(pid: int | str) -> tuple[str, float]:
    """A process's name and CPU seconds so far (user + system), from /proc; FileNotFoundError once it is gone."""
    with open(f"/proc/{pid}/stat") as stat:
        head, tail = stat.read().rsplit(")", 1)
    fields = tail.split()
    return head.split("(", 1)[1], (int(fields[11]) + int(fields[12])) / TICKS_PER_SECOND


def process_tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process and its children (uvicorn's worker processes)."""
    total = 0.0
    try:
        total += process_cpu(pid)[1]
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            total += sum(process_tree_cpu(int(child)) for child in children.read().split())
    except FileNotFoundError:
        pass
    return total


def cpu_by_service(api_pid: int, worker_pids: list[int]) -> dict[str, float]:
    """CPU seconds so far of each part of the stack on this machine: the API and worker process trees, this
    process (the simulated fleet), the Temporal dev server and PostgreSQL (every process named so)."""
    cpu = {"API": process_tree_cpu(api_pid), "worker": sum(process_tree_cpu(pid) for pid in worker_pids),
           "fleet (bench)": sum(os.times()[:2]), "Temporal": 0.0, "PostgreSQL": 0.0}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            name, seconds = process_cpu(entry.name)
        except (FileNotFoundError, ProcessLookupError):
            continue
        service = "PostgreSQL" if name.startswith("postgres") else "Temporal" if name.startswith("temporal") else None
        if service:
            cpu[service] += seconds
    return cpu


@dataclass
class Recording:
    scheduled: float
    started: float = 0.0
    completed: float = 0.0
    scans: int = 0


@contextmanager
def fleet_collector_paused() -> Iterator[None]:
    """The simulated fleet holds thousands of parsed jobs at once; even with the tuned thresholds its collector
    stopped every simulated agent for up to 4.3 s at a time during a 5,000-host tick (gc.callbacks). Over a tick
    the collector is off in this process only, and runs once afterwards: the product's processes are untouched."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()


class ConnectionSampler:
    """The most connections each service had busy (not idle) at once, sampled every 0.2 s."""

    def __init__(self, sessionmaker):
        self.sessionmaker = sessionmaker
        self.most: Counter[str] = Counter()
        self._task: asyncio.Task | None = None

    async def _sample(self) -> None:
        query = text("""SELECT application_name, count(*) FROM pg_stat_activity
                        WHERE datname = current_database() AND state NOT IN ('idle') AND pid <> pg_backend_pid()
                        GROUP BY 1""")
        async with self.sessionmaker() as session:
            while True:
                for name, busy in (await session.execute(query)).all():
                    self.most[name] = max(self.most[name], busy)
                await session.rollback()
                await asyncio.sleep(0.2)

    def __enter__(self) -> ConnectionSampler:
        self._task = asyncio.create_task(self._sample())
        return self

    def __exit__(self, *_) -> None:
        self._task.cancel()


async def measured_tick(env, sessionmaker, settings, fleet: Fleet, api_pid: int, worker_pids: list[int],
                        tick: str) -> dict:
    requests_before, errors_before = fleet.requests(), sum(h.api.server_errors for h in fleet.hosts)
    services_before = cpu_by_service(api_pid, worker_pids)
    cycle_started = datetime.now(UTC)
    with ConnectionSampler(sessionmaker) as connections, fleet_collector_paused():
        result, batch_ids, elapsed = await run_one_tick(env.client, sessionmaker, settings.temporal_task_queue,
                                                          tick)
    services_after = cpu_by_service(api_pid, worker_pids)
    services_cpu = {name: services_after[name] - services_before[name] for name in services_after}
    api_cpu = services_cpu["API"]
    async with sessionmaker() as session:
        scans = {"pattern": f"scan-batch-%-{tick}-%"}
        completed = await session.scalar(text(
            "SELECT count(*) FROM compliance_scans WHERE status = 'completed' AND workflow_id LIKE :pattern"), scans)
        opened = (await session.execute(text("""
            SELECT extract(epoch FROM min(j.created_at) - :started), extract(epoch FROM max(j.created_at) - :started),
                   extract(epoch FROM min(j.delivered_at) - :started),
                   extract(epoch FROM percentile_cont(0.5) WITHIN GROUP (ORDER BY j.delivered_at - :started)),
                   extract(epoch FROM max(j.delivered_at) - :started)
            FROM agent_jobs j JOIN compliance_scans s ON s.id = j.scan_id WHERE s.workflow_id LIKE :pattern
        """), scans | {"started": cycle_started})).one()
        # Where the time went, from the jobs' creation: agents answering, then recording catching up.
        timeline = (await session.execute(text("""
            SELECT extract(epoch FROM percentile_cont(0.5) WITHIN GROUP (ORDER BY j.delivered_at - j.created_at)),
                   extract(epoch FROM max(j.delivered_at - j.created_at)),
                   extract(epoch FROM percentile_cont(0.5) WITHIN GROUP (ORDER BY j.completed_at - j.created_at)),
                   extract(epoch FROM max(j.completed_at - j.created_at)),
                   extract(epoch FROM percentile_cont(0.5) WITHIN GROUP (ORDER BY s.completed_at - j.created_at)),
                   extract(epoch FROM max(s.completed_at - j.created_at))
            FROM agent_jobs j JOIN compliance_scans s ON s.id = j.scan_id
            WHERE s.workflow_id LIKE :pattern
        """), scans)).one()
        # Per 5 s after the cycle's start: jobs delivered, agents' answers stored, scans recorded.
        flow = (await session.execute(text("""
            SELECT b, sum((k = 'd')::int), sum((k = 'a')::int), sum((k = 'r')::int) FROM (
                SELECT 'd' AS k, floor(extract(epoch FROM j.delivered_at - :started) / 5) AS b
                FROM agent_jobs j JOIN compliance_scans s ON s.id = j.scan_id WHERE s.workflow_id LIKE :pattern
                UNION ALL
                SELECT 'a', floor(extract(epoch FROM j.completed_at - :started) / 5)
                FROM agent_jobs j JOIN compliance_scans s ON s.id = j.scan_id WHERE s.workflow_id LIKE :pattern
                UNION ALL
                SELECT 'r', floor(extract(epoch FROM s.updated_at - :started) / 5)
                FROM compliance_scans s WHERE s.workflow_id LIKE :pattern AND s.status = 'completed') x
            WHERE b IS NOT NULL GROUP BY b ORDER BY b
        """), scans | {"started": cycle_started})).all()
    events = 0
    # Each recording: scheduled (seconds after the cycle's start), waiting for a worker, running, scans recorded.
    recordings: list[Recording] = []
    for workflow_id in [*batch_ids, f"scan-cycle-{tick}"]:
        scheduled: dict[int, Recording] = {}
        async for event in env.client.get_workflow_handle(workflow_id).fetch_history_events():
            events += 1
            at = (event.event_time.ToDatetime(UTC) - cycle_started).total_seconds()
            if event.HasField("activity_task_scheduled_event_attributes") and \
                    event.activity_task_scheduled_event_attributes.activity_type.name == "record_scan_results":
                scheduled[event.event_id] = Recording(at)
            elif event.HasField("activity_task_started_event_attributes"):
                if recording := scheduled.get(event.activity_task_started_event_attributes.scheduled_event_id):
                    recording.started = at
            elif event.HasField("activity_task_completed_event_attributes"):
                completed_event = event.activity_task_completed_event_attributes
                if recording := scheduled.get(completed_event.scheduled_event_id):
                    recording.completed = at
                    outcome = json.loads(completed_event.result.payloads[0].data)
                    recording.scans = outcome["recorded"] + outcome["timed_out"]
        recordings.extend(scheduled.values())
    return {"completed": completed, "planned": result.scans_planned, "elapsed": elapsed, "timeline": timeline,
            "opened": opened, "recordings": sorted(recordings, key=lambda r: r.scheduled), "flow": flow,
            "services_cpu": services_cpu,
            "events": events, "batches": len(batch_ids), "requests": fleet.requests() - requests_before,
            "server_errors": sum(h.api.server_errors for h in fleet.hosts) - errors_before, "api_cpu": api_cpu,
            "connections": dict(connections.most)}


async def one_run(hosts: int, db_file: Path | None, workers: int, api_workers: int) -> dict:
    async with fresh_database() as (db_url, engine), dev_server(db_file) as env:
        settings = bench_settings(db_url, env)
        sessionmaker = sessionmaker_for(engine)
        secret = await seed_bench_org(sessionmaker, hosts)
        with api_process(settings, "e2e-api", "--timeout-graceful-shutdown", "2", "--workers", str(api_workers),
                         app_name=API_NAME) as (base_url, server):
            processes = [spawn([sys.executable, "worker.py"], settings, f"e2e-worker-{n}", app_name=WORKER_NAME)
                         for n in range(workers)]
            try:
                async with httpx.AsyncClient(timeout=httpx.Timeout(120.0)) as http:
                    # Each simulated host talks through its own client, as real agents do (see agent.fleet).
                    fleet = Fleet(http, base_url, Outcomes(fail_rate=0.2, error_rate=0.01),
                                  client_per_host=lambda: own_connection(POLL_WAIT + 60.0))
                    await fleet.enroll(hosts, secret, prefix="e2e", concurrency=50)
                    # The load generator must not be what is measured: with thousands of clients on its heap, the
                    # default collector paused this process for 0.5-1.1 s several times a tick, so agents answered
                    # late. Tuned as the worker is.
                    tune_garbage_collector()
                    fleet.start(wait=POLL_WAIT, heartbeat=HEARTBEAT_SECONDS)
                    await asyncio.sleep(2)
                    worker_pids = [process.pid for process in processes]
                    first = await measured_tick(env, sessionmaker, settings, fleet, server.pid, worker_pids,
                                                "e2e-first")
                    # A scan interval later, every host is due again. The second tick is warm but follows the
                    # longer first one, so agents' polls are not yet in a steady rhythm; the third is measured.
                    ticks = []
                    for tick in ("e2e-second", "e2e-steady"):
                        async with sessionmaker() as session, session.begin():
                            await session.execute(text(
                                "UPDATE host_policy_status SET last_completed_at = last_completed_at - "
                                "interval '30 days'"))
                        ticks.append(await measured_tick(env, sessionmaker, settings, fleet, server.pid,
                                                         worker_pids, tick))
                    second, steady = ticks
                    await fleet.aclose()
            finally:
                for process in processes:
                    process.terminate()
                for process in processes:
                    process.wait(timeout=30)
        baseline = await trivial_workflows_per_second(env.client, hosts)
    return {"hosts": hosts, "first": first, "second": second, "steady": steady, "baseline": baseline}


def report(label: str, run: dict) -> None:
    hosts, first, r = run["hosts"], run["first"], run["steady"]
    rate = r["completed"] / r["elapsed"]
    scans = max(r["completed"], 1)
    print(f"[{label}] hosts {hosts}: first tick {first['completed']} scans in {first['elapsed']:.2f} s "
          f"({first['completed'] / first['elapsed']:.1f}/s, warm-up); steady tick below")
    second = run["second"]
    print(f"[{label}] second tick (warm, after the first)   {second['completed']} scans in {second['elapsed']:.2f} s "
          f"({second['completed'] / second['elapsed']:.1f}/s), "
          f"{sum(second['requests'].values()) / max(second['completed'], 1):.2f} requests per scan "
          f"({', '.join(f'{kind} {count}' for kind, count in sorted(second['requests'].items()))}), "
          f"{second['server_errors']} HTTP 5xx")
    print(f"[{label}] scans completed                      {r['completed']} of {r['planned']} "
          f"in {r['batches']} batch(es)")
    print(f"[{label}] cycle start -> last scan recorded    {r['elapsed']:.2f} s")
    print(f"[{label}] host scans/s                         {rate:.1f}")
    print(f"[{label}] after cycle start: jobs opened       first {r['opened'][0]:.1f} s, last {r['opened'][1]:.1f} s "
          "(transaction start)")
    print(f"[{label}] after cycle start: jobs delivered    first {r['opened'][2]:.1f} s, "
          f"p50 {r['opened'][3]:.1f} s, last {r['opened'][4]:.1f} s")
    delivered_p50, delivered_max, answered_p50, answered_max, recorded_p50, recorded_max = r["timeline"]
    print(f"[{label}] from job opened: job delivered       p50 {delivered_p50:.1f} s, last {delivered_max:.1f} s")
    print(f"[{label}] from job opened: agent answered      p50 {answered_p50:.1f} s, last {answered_max:.1f} s")
    print(f"[{label}] from job opened: scan recorded       p50 {recorded_p50:.1f} s, last {recorded_max:.1f} s")
    print(f"[{label}] history events per host scan         {r['events'] / scans:.2f} (target <= 5)")
    if recordings := r["recordings"]:
        times = [recording.scheduled for recording in recordings]
        print(f"[{label}] recordings (all batches)          {len(recordings)}, first {times[0]:.1f} s, "
              f"last {times[-1]:.1f} s after cycle start; longest gap "
              f"{max((b - a for a, b in pairwise(times)), default=0):.1f} s")
        by_bucket: dict[int, list[Recording]] = {}
        for recording in recordings:
            by_bucket.setdefault(int(recording.scheduled // 5) * 5, []).append(recording)
        print(f"[{label}] recordings per 5 s (scheduled)      count / scans / mean wait for a worker / mean run: "
              + "; ".join(f"{bucket}s {len(group)}/{sum(g.scans for g in group)}/"
                          f"{statistics.mean(g.started - g.scheduled for g in group):.2f}/"
                          f"{statistics.mean(g.completed - g.started for g in group):.2f}"
                          for bucket, group in sorted(by_bucket.items())))
    print(f"[{label}] per 5 s after cycle start             delivered / answered / recorded: " + "; ".join(
        f"{int(bucket) * 5}s {delivered}/{answered}/{recorded}" for bucket, delivered, answered, recorded in r["flow"]))
    print(f"[{label}] CPU over the tick (s)                " + ", ".join(
        f"{name} {seconds:.1f}" for name, seconds in r["services_cpu"].items())
          + f" of {r['elapsed'] * os.cpu_count():.0f} core-seconds")
    sent = r["requests"]
    print(f"[{label}] agent requests per host scan         {sum(sent.values()) / scans:.2f} (target <= 1.2; "
          f"{', '.join(f'{kind} {count}' for kind, count in sorted(sent.items()))})")
    print(f"[{label}] API CPU per host scan                {r['api_cpu'] / scans * 1000:.1f} ms "
          f"({r['api_cpu'] / r['elapsed'] * 100:.0f} % of a core over the tick)")
    busy = r["connections"]
    print(f"[{label}] most connections busy at once        API {busy.get(API_NAME, 0)}, "
          f"worker(s) {busy.get(WORKER_NAME, 0)}")
    print(f"[{label}] HTTP 5xx answers to agents           {r['server_errors']}")
    print(f"[{label}] baseline trivial workflows/s         {run['baseline']:.1f}")
    print(f"[{label}] ratio (target >= 2 at 1,000 hosts)    {rate / run['baseline']:.2f}")


def summary(label: str, runs: list[dict]) -> None:
    print(f"[{label}] hosts | scans/s | baseline wf/s | ratio | requests/scan | API CPU ms/scan | "
          "busy connections API/worker | 5xx")
    for run in runs:
        r = run["steady"]
        scans = max(r["completed"], 1)
        rate = r["completed"] / r["elapsed"]
        print(f"[{label}] {run['hosts']} | {rate:.1f} | {run['baseline']:.1f} | {rate / run['baseline']:.2f} | "
              f"{sum(r['requests'].values()) / scans:.2f} | {r['api_cpu'] / scans * 1000:.1f} | "
              f"{r['connections'].get(API_NAME, 0)}/{r['connections'].get(WORKER_NAME, 0)} | {r['server_errors']}")
    by_size = {run["hosts"]: run["steady"]["completed"] / run["steady"]["elapsed"] for run in runs}
    if 500 in by_size:
        for size in sorted(by_size):
            if size > 500:
                print(f"[{label}] {size} hosts vs 500: {by_size[size] / by_size[500] * 100:.0f} % "
                      "(target: 5,000 within 20 %)")


async def run(sizes: list[int], persistence: str, workers: int, api_workers: int) -> None:
    suffix = (f", {workers} workers" if workers > 1 else "") + (
        f", {api_workers} API processes" if api_workers > 1 else "")
    for mode in ("memory", "file"):
        if persistence not in (mode, "both"):
            continue
        label = ("in-memory" if mode == "memory" else "file-persistence") + suffix
        runs = []
        for hosts in sizes:
            started = time.monotonic()
            if mode == "memory":
                runs.append(await one_run(hosts, None, workers, api_workers))
            else:
                with tempfile.TemporaryDirectory() as folder:
                    runs.append(await one_run(hosts, Path(folder) / "temporal.db", workers, api_workers))
            report(label, runs[-1])
            print(f"[{label}] (run took {time.monotonic() - started:.0f} s)", flush=True)
        if len(runs) > 1:
            summary(label, runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", default="1000", help="fleet sizes, comma-separated: 250,500,1000,2000,5000")
    parser.add_argument("--persistence", choices=("memory", "file", "both"), default="memory")
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument("--api-workers", type=int, default=1, help="uvicorn worker processes for the API")
    args = parser.parse_args()
    sizes = [int(size) for size in args.hosts.split(",")]
    asyncio.run(run(sizes, args.persistence, args.workers, args.api_workers))


if __name__ == "__main__":
    main()
