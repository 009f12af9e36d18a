"""API under load: 50 concurrent clients for 60 s on mixed reads and agent result posts, over real HTTP.

    .venv/bin/python -m bench.api_load [--clients 50] [--seconds 60]

Each client is a user reading (hosts, scans, templates, policies, dashboard, report) and an enrolled agent sending
heartbeats, polling for jobs and posting the results of the jobs it got: every agent's host has a stock of open
compliance-check jobs (one per scan of the CIS Linux L1 template, 94 checks), seeded set-based before the run, and
each result is validated against its job's checks and stored as in production (there is no waiting activity to
complete, so Temporal is not in the measured path). Prints requests/s, p50/p99 latency per kind and the error
count (must be 0). Baseline in the same run: the same clients hammering GET /healthz (the server's ceiling
without database work).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections import defaultdict

import httpx
from sqlalchemy import text

from bench.harness import api_process, bench_settings, dev_server, fresh_database, seed_bench_org, sessionmaker_for


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


async def run(clients: int, seconds: float) -> None:
    async with fresh_database() as (db_url, engine), dev_server() as env:
        settings = bench_settings(db_url, env)
        sessionmaker = sessionmaker_for(engine)
        secret = await seed_bench_org(sessionmaker, 100)
        with api_process(settings, "api-load") as (root_url, _server):
            base = f"{root_url}/api/v1"
            limits = httpx.Limits(max_connections=clients + 10)
            async with httpx.AsyncClient(limits=limits, timeout=30) as http:
                agents = []
                for i in range(clients):
                    body = (await http.post(f"{base}/agent/enroll", json={
                        "enrollment_token": secret, "hostname": f"load-{i:03d}", "os_type": "linux",
                        "ip_address": f"10.8.0.{i}"})).json()
                    agents.append({"Authorization": f"Bearer {body['agent_token']}"})
                await stock_jobs(sessionmaker, JOBS_PER_AGENT)
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
                        return "agent result post", started, response.status_code == 200
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
    print(f"baseline GET /healthz          {baseline_total / min(seconds, 15):8.1f} req/s  "
          f"p99 {percentile(baseline['healthz'], 0.99):6.1f} ms")
    print(f"mixed load ({clients} clients, {seconds:.0f} s)  {total / seconds:8.1f} req/s  errors {errors}")
    for kind, values in sorted(latencies.items()):
        print(f"  {kind:28s} n={len(values):6d}  p50 {percentile(values, 0.5):6.1f} ms  "
              f"p99 {percentile(values, 0.99):6.1f} ms")


JOBS_PER_AGENT = 400


async def stock_jobs(sessionmaker, per_host: int) -> None:
    """Completed scans with an open check job each for every enrolled host: results to post for the whole run."""
    async with sessionmaker() as session, session.begin():
        await session.execute(text("""
            WITH scans AS (
                INSERT INTO compliance_scans (id, org_id, host_id, policy_id, template_id, template_version,
                                              scan_type, status, workflow_id, result_data, total, passed, failed,
                                              errors, skipped, waived, created_at, updated_at)
                SELECT gen_random_uuid(), h.org_id, h.id, p.id, p.template_id, 1, 'on_demand', 'completed',
                       'bench-api-load', '{}', 0, 0, 0, 0, 0, 0, now(), now()
                FROM hosts h JOIN compliance_policies p ON p.org_id = h.org_id
                CROSS JOIN generate_series(1, :per_host)
                RETURNING id, org_id, host_id, template_id
            )
            INSERT INTO agent_jobs (id, org_id, host_id, kind, payload, status, scan_id, late, completion_pending,
                                    created_at, updated_at)
            SELECT gen_random_uuid(), org_id, host_id, 'compliance_check',
                   jsonb_build_object('scan_id', id, 'template_id', template_id), 'pending', id, false, false,
                   now(), now()
            FROM scans
        """), {"per_host": per_host})


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
    args = parser.parse_args()
    asyncio.run(run(args.clients, args.seconds))


if __name__ == "__main__":
    main()
