"""End-to-end scans over real HTTP: the API (uvicorn) and worker as separate processes, a simulated fleet of
N hosts long-polling the API, one scheduled tick. Run twice: dev server in memory, then with file persistence
(as `make run` uses it).

    .venv/bin/python -m bench.e2e_scans [--hosts 1000] [--persistence memory|file|both] [--api-workers 1]

Prints host scans/s, time from cycle start to the last scan recorded, history events per host scan, the agents'
HTTP requests per host scan and their 5xx answers, and the baseline measured on the same server: N trivial
one-activity workflows (workflows/s). Target: scans/s >= 2x baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

import httpx
from sqlalchemy import text

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


async def one_run(hosts: int, db_file: Path | None, api_workers: int = 1) -> dict:
    async with fresh_database() as (db_url, engine), dev_server(db_file) as env:
        settings = bench_settings(db_url, env)
        sessionmaker = sessionmaker_for(engine)
        secret = await seed_bench_org(sessionmaker, hosts)
        with api_process(settings, "e2e-api", "--timeout-graceful-shutdown", "2",
                         "--workers", str(api_workers)) as (base_url, _server):
            worker = spawn([sys.executable, "worker.py"], settings, "e2e-worker")
            try:
                async with httpx.AsyncClient(timeout=httpx.Timeout(120.0)) as http:
                    # Each simulated host talks through its own client, as real agents do (see agent.fleet).
                    fleet = Fleet(http, base_url, Outcomes(fail_rate=0.2, error_rate=0.01),
                                  client_per_host=lambda: own_connection(120.0))
                    await fleet.enroll(hosts, secret, prefix="e2e", concurrency=50)
                    fleet.start(wait=20)
                    await asyncio.sleep(2)
                    requests_before = fleet.requests()
                    result, batch_ids, elapsed = await run_one_tick(env.client, sessionmaker,
                                                                      settings.temporal_task_queue, "e2e")
                    requests = fleet.requests() - requests_before
                    server_errors = sum(host.api.server_errors for host in fleet.hosts)
                    await fleet.aclose()
            finally:
                worker.terminate()
                worker.wait(timeout=30)
        async with sessionmaker() as session:
            completed = await session.scalar(text("SELECT count(*) FROM compliance_scans WHERE status='completed'"))
            # Where the time went, from the jobs' creation: agents answering, then recording catching up.
            timeline = (await session.execute(text("""
                SELECT extract(epoch FROM percentile_cont(0.5) WITHIN GROUP (ORDER BY j.delivered_at - j.created_at)),
                       extract(epoch FROM max(j.delivered_at - j.created_at)),
                       extract(epoch FROM percentile_cont(0.5) WITHIN GROUP (ORDER BY j.completed_at - j.created_at)),
                       extract(epoch FROM max(j.completed_at - j.created_at)),
                       extract(epoch FROM percentile_cont(0.5) WITHIN GROUP (ORDER BY s.completed_at - j.created_at)),
                       extract(epoch FROM max(s.completed_at - j.created_at))
                FROM agent_jobs j JOIN compliance_scans s ON s.id = j.scan_id
            """))).one()
        events = 0
        for workflow_id in [*batch_ids, "scan-cycle-e2e"]:
            events += len([e async for e in env.client.get_workflow_handle(workflow_id).fetch_history_events()])
        baseline = await trivial_workflows_per_second(env.client, hosts)
    return {"completed": completed, "planned": result.scans_planned, "elapsed": elapsed, "timeline": timeline,
            "events": events, "batches": len(batch_ids), "baseline": baseline, "requests": requests,
            "server_errors": server_errors}


def report(label: str, hosts: int, r: dict) -> None:
    rate = r["completed"] / r["elapsed"]
    print(f"[{label}] hosts {hosts}, scans completed {r['completed']} of {r['planned']} in {r['batches']} batch(es)")
    print(f"[{label}] cycle start -> last scan recorded   {r['elapsed']:.2f} s")
    print(f"[{label}] host scans/s                        {rate:.1f}")
    delivered_p50, delivered_max, answered_p50, answered_max, recorded_p50, recorded_max = r["timeline"]
    print(f"[{label}] from job opened: job delivered      p50 {delivered_p50:.1f} s, last {delivered_max:.1f} s")
    print(f"[{label}] from job opened: agent answered     p50 {answered_p50:.1f} s, last {answered_max:.1f} s")
    print(f"[{label}] from job opened: scan recorded      p50 {recorded_p50:.1f} s, last {recorded_max:.1f} s")
    print(f"[{label}] history events per host scan        {r['events'] / max(r['completed'], 1):.2f} (target <= 5)")
    sent, scans = r["requests"], max(r["completed"], 1)
    # Every host's job reaches it on the long poll it sent before the tick: one request, plus those sent during it.
    print(f"[{label}] agent requests per host scan        {(sum(sent.values()) + hosts) / scans:.2f} "
          f"(sent during the tick: {sent['result']} result posts, {sent['poll']} polls; "
          f"+ {hosts} polls waiting at its start)")
    print(f"[{label}] HTTP 5xx answers to agents          {r['server_errors']}")
    print(f"[{label}] baseline trivial workflows/s        {r['baseline']:.1f}")
    print(f"[{label}] ratio (target >= 2)                  {rate / r['baseline']:.2f}")


async def run(hosts: int, persistence: str, api_workers: int) -> None:
    suffix = f", {api_workers} API processes" if api_workers > 1 else ""
    if persistence in ("memory", "both"):
        report("in-memory" + suffix, hosts, await one_run(hosts, None, api_workers))
    if persistence in ("file", "both"):
        with tempfile.TemporaryDirectory() as folder:
            report("file-persistence" + suffix, hosts, await one_run(hosts, Path(folder) / "temporal.db", api_workers))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--persistence", choices=("memory", "file", "both"), default="both")
    parser.add_argument("--api-workers", type=int, default=1, help="uvicorn worker processes for the API")
    args = parser.parse_args()
    asyncio.run(run(args.hosts, args.persistence, args.api_workers))


if __name__ == "__main__":
    main()
