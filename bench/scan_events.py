"""History events per host scan: one scheduled tick over N simulated hosts (default 200), end to end.

    .venv/bin/python -m bench.scan_events [--hosts 200]

Prints host scans/s, the tick's duration and Temporal history events per host scan (target ≤ 5), with a baseline
measured in the same run: N trivial one-activity workflows on the same server (one workflow per host scan).
"""

from __future__ import annotations

import argparse
import asyncio

from sqlalchemy import text

from agent.fleet import Fleet, Outcomes
from bench.harness import (
    api_client,
    bench_settings,
    dev_server,
    fresh_database,
    run_one_tick,
    seed_bench_org,
    sessionmaker_for,
)
from bench.trivial import trivial_workflows_per_second
from worker import build_worker


async def count_events(client, workflow_id: str) -> int:
    return len([e async for e in client.get_workflow_handle(workflow_id).fetch_history_events()])


async def run(hosts: int) -> None:
    async with fresh_database() as (db_url, engine), dev_server() as env:
        settings = bench_settings(db_url, env, max_scans_per_batch_workflow=1000)
        sessionmaker = sessionmaker_for(engine)
        secret = await seed_bench_org(sessionmaker, hosts)
        async with api_client(settings) as api, build_worker(env.client, sessionmaker, settings):
            fleet = Fleet(api, "http://bench", Outcomes(fail_rate=0.2, error_rate=0.01))
            await fleet.enroll(hosts, secret, prefix="bench")
            fleet.start(wait=10)
            result, batch_ids, elapsed = await run_one_tick(env.client, sessionmaker, settings.temporal_task_queue,
                                                              "bench")
            await fleet.stop()
            async with sessionmaker() as session:
                completed = await session.scalar(text("SELECT count(*) FROM compliance_scans WHERE status='completed'"))
            events = sum([await count_events(env.client, w) for w in batch_ids])
            cycle_events = await count_events(env.client, "scan-cycle-bench")
        trivial_rate = await trivial_workflows_per_second(env.client, hosts)

    print(f"hosts                         {hosts}")
    print(f"scans completed               {completed} (planned {result.scans_planned})")
    print(f"tick duration                 {elapsed:.2f} s (cycle start to last scan recorded)")
    print(f"host scans/s                  {completed / elapsed:.1f}")
    print(f"batch workflow events         {events} in {len(batch_ids)} batch workflow(s); cycle {cycle_events}")
    print(f"history events per host scan  {(events + cycle_events) / max(completed, 1):.2f}  (target <= 5)")
    print(f"baseline: trivial workflows/s {trivial_rate:.1f}  (one workflow per scan: >= 11 events each)")
    print(f"ratio scans/s : workflows/s   {completed / elapsed / trivial_rate:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=200)
    asyncio.run(run(parser.parse_args().hosts))


if __name__ == "__main__":
    main()
