"""What an idle fleet costs the API: N simulated agents talking to a real API process (uvicorn) that has no work
for them, as the reference agent does: a long poll of `--wait` seconds after another, and a heartbeat every
`--heartbeat` seconds (both default to the reference agent's). Baseline in the same run: the same API process,
with the same agents enrolled, before they poll.

    .venv/bin/python -m bench.idle_fleet [--agents 2000] [--seconds 90] [--wait 55] [--heartbeat 3600]

Prints the API process's CPU (share of one core, from /proc/<pid>/stat), agent requests per second by kind,
database transactions per second and the most database connections busy at once. Target: under 10 % of a core
for 2,000 idle agents (issue 19). The figure is the API process only: PostgreSQL and the fleet are left out.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections import Counter

import httpx
from sqlalchemy import text

from agent.__main__ import HEARTBEAT_SECONDS, POLL_WAIT
from agent.fleet import Fleet, Outcomes, own_connection
from bench.harness import api_process, fresh_database, seed_bench_org, sessionmaker_for
from config import Settings
from worker import tune_garbage_collector

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User and system CPU of a process so far (fields 14 and 15 of /proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_SECOND


async def measure(pid: int, sessionmaker, seconds: float, fleet: Fleet | None) -> dict:
    """The API's CPU, the fleet's requests and the database's transactions and busy connections over a window."""
    count = "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()"
    busy = ("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state <> 'idle' "
            "AND pid <> pg_backend_pid()")
    async with sessionmaker() as session:
        transactions_before = await session.scalar(text(count))
        requests_before = fleet.requests() if fleet else Counter()
        cpu_before, started = cpu_seconds(pid), time.monotonic()
        most_busy = 0
        while time.monotonic() - started < seconds:
            await asyncio.sleep(0.5)
            most_busy = max(most_busy, await session.scalar(text(busy)))
            await session.rollback()
        elapsed = time.monotonic() - started
        cpu = cpu_seconds(pid) - cpu_before
        requests = (fleet.requests() if fleet else Counter()) - requests_before
        transactions = await session.scalar(text(count)) - transactions_before
    # The probe itself runs one transaction per sample; leave those out.
    own = int(seconds / 0.5) + 1
    return {"cpu": cpu / elapsed, "requests": sum(requests.values()) / elapsed,
            "by_kind": {kind: count / elapsed for kind, count in sorted(requests.items())},
            "transactions": max(0, transactions - own) / elapsed, "busy": most_busy}


async def run(agents: int, seconds: float, wait: int, heartbeat: float) -> None:
    async with fresh_database() as (db_url, engine):
        sessionmaker = sessionmaker_for(engine)
        secret = await seed_bench_org(sessionmaker, agents)
        settings = Settings(database_url=db_url, environment="test", jwt_secret="bench-" + "x" * 40,
                            temporal_address="127.0.0.1:1", temporal_task_queue="idle-fleet")
        with api_process(settings, "idle-fleet-api", "--timeout-graceful-shutdown", "2") as (base_url, server):
            async with httpx.AsyncClient(timeout=httpx.Timeout(120.0)) as http:
                fleet = Fleet(http, base_url, Outcomes(), client_per_host=lambda: own_connection(wait + 60.0))
                await fleet.enroll(agents, secret, prefix="idle", concurrency=50)
                tune_garbage_collector()  # the load generator's pauses are not the API's cost (see e2e_scans)
                await asyncio.sleep(2)
                baseline = await measure(server.pid, sessionmaker, min(seconds, 30.0), None)
                # Agents start at random moments of one wait, as a fleet whose hosts booted at different times.
                fleet.start(wait=wait, heartbeat=heartbeat, spread=wait)
                await asyncio.sleep(wait + 5)  # every agent is polling
                idle = await measure(server.pid, sessionmaker, seconds, fleet)
                errors = sum(host.api.server_errors for host in fleet.hosts)
                await fleet.aclose()
    print(f"[idle-fleet] agents {agents}, long-poll wait {wait} s, heartbeat every {heartbeat:.0f} s, "
          f"window {seconds:.0f} s")
    print(f"[idle-fleet] API CPU, agents polling           {idle['cpu'] * 100:.1f} % of a core (target < 10 %)")
    print(f"[idle-fleet] baseline: API CPU, nobody polling  {baseline['cpu'] * 100:.1f} % of a core")
    print(f"[idle-fleet] agent requests/s                  {idle['requests']:.1f} "
          f"({', '.join(f'{kind} {rate:.1f}' for kind, rate in idle['by_kind'].items())}; "
          f"{idle['requests'] / agents * wait:.2f} per agent per {wait} s)")
    print(f"[idle-fleet] database transactions/s            {idle['transactions']:.1f} "
          f"(baseline {baseline['transactions']:.1f})")
    print(f"[idle-fleet] most database connections busy      {idle['busy']} (baseline {baseline['busy']})")
    print(f"[idle-fleet] HTTP 5xx answers                  {errors}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=90.0)
    parser.add_argument("--wait", type=int, default=POLL_WAIT, help="the agents' long-poll wait (the reference "
                                                                    "agent's)")
    parser.add_argument("--heartbeat", type=float, default=HEARTBEAT_SECONDS, help="seconds between heartbeats "
                        "(the reference agent's for a host whose facts do not change; it was 300 before 2026-12-01)")
    args = parser.parse_args()
    asyncio.run(run(args.agents, args.seconds, args.wait, args.heartbeat))


if __name__ == "__main__":
    main()
