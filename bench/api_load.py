"""API under load: 50 concurrent clients for 60 s on mixed reads and agent traffic, over real HTTP, against a
realistic database and a running worker.

    .venv/bin/python -m bench.api_load [--clients 50] [--seconds 60] [--hosts 2000] [--days 30]

The database holds, besides the clients' own organization, a fleet of `--hosts` hosts under a 300-check policy with
their latest state (hosts x 300 check_states rows) and a completed scan a day for `--days` days (bench.read_paths
seeds it set-based, then VACUUM ANALYZE). Each client is an administrator reading (hosts, scans, templates,
policies, dashboard, report: over every organization, so over the large fleet) and an enrolled agent sending
heartbeats, polling for jobs and posting the results of the jobs it got. Its jobs come from on-demand scans the
client asks for through the API (POST /compliance/policies/{id}/scan) when its host has none open, so every
result post completes a real waiting Temporal activity and the worker records the scan, as in production. Prints
requests/s, p50/p99 latency per kind, the error count (must be 0) and how many scans the worker recorded. Baseline
in the same run: the same clients hammering GET /healthz (the server's ceiling without database work).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections import defaultdict

import httpx
from sqlalchemy import text

from bench.harness import (
    api_process,
    bench_settings,
    dev_server,
    fresh_database,
    seed_bench_org,
    sessionmaker_for,
    spawn,
)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000 if ordered else float("nan")


async def hammer(clients: int, seconds: float, one_request) -> tuple[dict, int, int]:
    latencies: dict[str, list[float]] = defaultdict(list)
    errors = total = 0
    deadline = time.perf_counter() + seconds

    async def client_loop(index: int) -> None:
        nonlocal errors, total
        while time.perf_counter() < deadline:
            try:
                kind, started, ok = await one_request(index)
            except httpx.HTTPError as exc:
                kind, started, ok = f"transport error {type(exc).__name__}", time.perf_counter(), False
            latencies[kind].append(time.perf_counter() - started)
            total += 1
            errors += 0 if ok else 1

    await asyncio.gather(*(client_loop(i) for i in range(clients)))
    return latencies, total, errors


async def run(clients: int, seconds: float, hosts: int, days: int) -> None:
    from bench.read_paths import seed

    async with fresh_database() as (db_url, engine), dev_server() as env:
        settings = bench_settings(db_url, env)
        sessionmaker = sessionmaker_for(engine)
        started = time.perf_counter()
        await asyncio.to_thread(seed, db_url, {"load-fleet": hosts}, 300, days)
        seeded = time.perf_counter() - started
        secret = await seed_bench_org(sessionmaker, 100)
        async with sessionmaker() as session:
            policy_id = await session.scalar(text(
                "SELECT p.id FROM compliance_policies p JOIN organizations o ON o.id = p.org_id "
                "WHERE o.name LIKE 'bench-%' LIMIT 1"))
            counts = (await session.execute(text(
                "SELECT (SELECT count(*) FROM hosts), (SELECT count(*) FROM check_states), "
                "(SELECT count(*) FROM compliance_scans)"))).one()
        worker = spawn([sys.executable, "worker.py"], settings, "api-load-worker")
        try:
            with api_process(settings, "api-load", "--timeout-graceful-shutdown", "2") as (root_url, _server):
                result = await load(root_url, secret, policy_id, sessionmaker, clients, seconds)
        finally:
            worker.terminate()
            worker.wait(timeout=30)
        async with sessionmaker() as session:
            recorded = await session.scalar(text(
                "SELECT count(*) FROM compliance_scans WHERE policy_id = :policy AND status = 'completed'"),
                {"policy": policy_id})
    baseline, baseline_total, latencies, total, errors = result
    print(f"database: {counts[0]} hosts, {counts[1]} latest check states, {counts[2]} scans "
          f"(seeded in {seeded:.0f} s)")
    print(f"baseline GET /healthz          {baseline_total / min(seconds, 15):8.1f} req/s  "
          f"p99 {percentile(baseline['healthz'], 0.99):6.1f} ms")
    print(f"mixed load ({clients} clients, {seconds:.0f} s)  {total / seconds:8.1f} req/s  errors {errors}")
    for kind, values in sorted(latencies.items()):
        print(f"  {kind:28s} n={len(values):6d}  p50 {percentile(values, 0.5):6.1f} ms  "
              f"p99 {percentile(values, 0.99):6.1f} ms")
    print(f"on-demand scans recorded by the worker (result posts that completed their activity): {recorded}")


async def load(root_url: str, secret: str, policy_id, sessionmaker, clients: int, seconds: float):
    base = f"{root_url}/api/v1"
    limits = httpx.Limits(max_connections=clients + 10)
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:
        agents, host_ids = [], []
        for i in range(clients):
            body = (await http.post(f"{base}/agent/enroll", json={
                "enrollment_token": secret, "hostname": f"load-{i:03d}", "os_type": "linux",
                "ip_address": f"10.8.0.{i}"})).json()
            agents.append({"Authorization": f"Bearer {body['agent_token']}"})
            host_ids.append(body["host_id"])
        admin = await make_admin(sessionmaker)
        token = (await http.post(f"{base}/auth/token", data={"username": admin, "password": "load-test-pw"}))
        user = {"Authorization": f"Bearer {token.json()['access_token']}"}

        async def health(index: int):
            started = time.perf_counter()
            response = await http.get(f"{root_url}/healthz")
            return "healthz", started, response.status_code == 200

        reads = ["/hosts?page_size=50", "/compliance/scans?page_size=50", "/compliance/templates",
                 "/compliance/dashboard", "/compliance/report?page_size=50", "/compliance/policies"]
        claimed: dict[int, list[dict]] = defaultdict(list)
        requested: dict[int, float] = {}  # when the client last asked for a scan of its host

        async def mixed(index: int):
            started = time.perf_counter()
            roll = random.random()
            if roll < 0.15:
                response = await http.post(f"{base}/agent/heartbeat", json={}, headers=agents[index])
                return "agent heartbeat", started, response.status_code == 200
            if roll < 0.5 and claimed[index]:
                job = claimed[index].pop()
                body = {"results": [{"check_id": c["check_id"], "status": "pass", "actual": "compliant"}
                                    for c in job["payload"]["checks"]]}
                response = await http.post(f"{base}/agent/jobs/{job['id']}/result", json=body,
                                           headers=agents[index])
                requested.pop(index, None)
                return "agent result post", started, response.status_code == 200
            if roll < 0.5 and started - requested.get(index, -60.0) > 30:
                # The host has no scan open (or the last one asked for was lost): ask for one, as a person does.
                response = await http.post(f"{base}/compliance/policies/{policy_id}/scan",
                                           json={"host_id": host_ids[index]}, headers=user)
                requested[index] = started
                return "user on-demand scan", started, response.status_code == 202
            if roll < 0.5:
                response = await http.get(f"{base}/agent/jobs", headers=agents[index])
                if response.status_code == 200:
                    claimed[index].extend(response.json())
                return "agent poll", started, response.status_code == 200
            path = random.choice(reads)
            response = await http.get(base + path, headers=user)
            return path.split("?")[0], started, response.status_code == 200

        baseline, baseline_total, _ = await hammer(clients, min(seconds, 15), health)
        latencies, total, errors = await hammer(clients, seconds, mixed)
        return baseline, baseline_total, latencies, total, errors


async def make_admin(sessionmaker) -> str:
    from api.security import hash_password
    from models import User

    async with sessionmaker() as session, session.begin():
        session.add(User(username="load-admin", password_hash=hash_password("load-test-pw"), is_admin=True))
    return "load-admin"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--hosts", type=int, default=2000, help="hosts of the large fleet in the database")
    parser.add_argument("--days", type=int, default=30, help="days of scan history of the large fleet")
    args = parser.parse_args()
    asyncio.run(run(args.clients, args.seconds, args.hosts, args.days))


if __name__ == "__main__":
    main()
