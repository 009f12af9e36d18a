"""History events per host scan: one scheduled tick over N simulated hosts (default 200), end to end.

    .venv/bin/python -m bench.scan_events [--hosts 200]

Prints host scans/s, the tick's duration and Temporal history events per host scan (target ≤ 5), with a baseline
measured in the same run: N trivial one-activity workflows on the same server (one workflow per host scan).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text

from agent.fleet import Fleet, Outcomes
from api.security import new_secret, secret_digest
from bench.harness import api_client, bench_settings, dev_server, fresh_database, sessionmaker_for
from bench.trivial import trivial_workflows_per_second
from models import CompliancePolicy, ComplianceTemplate, EnrollmentToken, Organization
from worker import build_worker
from workflows.scan_cycle import ScanCycleWorkflow
from workflows.types import CycleInput


async def count_events(client, workflow_id: str) -> int:
    return len([e async for e in client.get_workflow_handle(workflow_id).fetch_history_events()])


async def run(hosts: int) -> None:
    async with fresh_database() as (db_url, engine), dev_server() as env:
        settings = bench_settings(db_url, env, max_scans_per_batch_workflow=1000)
        sessionmaker = sessionmaker_for(engine)
        secret = new_secret("enr")
        async with sessionmaker() as session, session.begin():
            org = Organization(name="bench")
            session.add(org)
            await session.flush()
            template_id = await session.scalar(select(ComplianceTemplate.id).where(
                ComplianceTemplate.content_key == "cis-linux-l1"))
            session.add(CompliancePolicy(org_id=org.id, os_type="linux", template_id=template_id, batch_size=hosts))
            session.add(EnrollmentToken(org_id=org.id, token_hash=secret_digest(secret),
                                        expires_at=datetime.now(UTC) + timedelta(hours=1)))
        async with api_client(settings) as api, build_worker(env.client, sessionmaker, settings):
            fleet = Fleet(api, "http://bench", Outcomes(fail_rate=0.2, error_rate=0.01))
            await fleet.enroll(hosts, secret, prefix="bench")
            fleet.start(wait=10)
            started = time.perf_counter()
            result = await env.client.execute_workflow(
                ScanCycleWorkflow.run, CycleInput(tick="bench"), id="scan-cycle-bench",
                task_queue=settings.temporal_task_queue)
            async with sessionmaker() as session:
                batch_ids = list(await session.scalars(text(
                    "SELECT DISTINCT workflow_id FROM compliance_scans WHERE workflow_id LIKE 'scan-batch-%'")))
            for batch_id in batch_ids:
                await env.client.get_workflow_handle(batch_id).result()
            elapsed = time.perf_counter() - started
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
