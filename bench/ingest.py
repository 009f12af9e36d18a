"""Result ingest: scans of 300 checks recorded by the recording activity, against raw COPY of the same rows.

    .venv/bin/python -m bench.ingest [--batches 20] [--scans 50] [--checks 300] [--hosts 250] [--single 50]
                                     [--drift 0.05,1] [--concurrency 2]

Each micro-batch of `--scans` running scans (agent jobs completed, results posted) is recorded by the activity
itself, ScanActivities.record_scan_results, called in process rather than through Temporal: one transaction with
waivers, counts, scores, history, latest state, host status, notifications, regression alerts, incidents and
remediation planning (no webhook is subscribed, so no delivery starts). Hosts are reused across batches, so most
batches update existing latest state, as in steady operation. Prints the drift assumed, check results/s, p50/p99
per micro-batch and per scan (batch time / scans), the latency of one-scan micro-batches, what the activity
raised besides the history (notifications, alerts, incidents, remediations), and the baseline measured in the same
run: psycopg COPY of the very rows the recording wrote (scan_id, check_id, rule_id, status, actual, exception_id)
into a scratch table without indexes.
Target: ≥ 50 % of the COPY rate.

`--drift` is the share of a host's checks whose outcome is drawn anew in each scan; the others repeat the host's
usual outcome, as on a real fleet where a host's configuration changes little between scans. Recording rewrites
a host's latest state only for changed checks, so drift is what it pays for. Each drift in the list is a separate
run over its own organization; drift 1 (every outcome new in every scan) is the worst case. The process tunes
its garbage collector as the worker does (worker.tune_garbage_collector). A second measurement records
`--concurrency` micro-batches of different hosts at once, as a worker does when several batch workflows finish
scans together (throughput by wall clock).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from datetime import UTC, datetime

import psycopg
from sqlalchemy import text

from activities.scans import ScanActivities
from bench.harness import fresh_database, sessionmaker_for
from config import Settings
from models import ComplianceCheck, ComplianceException, CompliancePolicy, ComplianceTemplate, Host, Organization
from models.db import libpq_url
from orchestration.types import RecordInput
from worker import tune_garbage_collector

SCRATCH = "bench_copy_results"
RESULT_COLUMNS = "scan_id, check_id, rule_id, status, actual, exception_id"


async def arrange(sessionmaker, checks: int, hosts: int) -> dict:
    async with sessionmaker() as session, session.begin():
        org = Organization(name=f"ingest-{uuid.uuid4().hex[:6]}")
        session.add(org)
        await session.flush()
        template = ComplianceTemplate(org_id=org.id, name="ingest", os_type="linux", framework="cis", version=1,
                                      status="published", lineage_id=uuid.uuid4(), published_at=datetime.now(UTC))
        session.add(template)
        await session.flush()
        session.add_all([ComplianceCheck(
            template_id=template.id, rule_id=f"9.{n}", title=f"bench check {n}", severity="medium",
            rule={"type": "file_exists", "path": f"/etc/bench/{n}"}, position=n) for n in range(checks)])
        policy = CompliancePolicy(org_id=org.id, os_type="linux", template_id=template.id)
        session.add(policy)
        hosts_ = [Host(org_id=org.id, hostname=f"ingest-{n}", os_type="linux", last_seen=datetime.now(UTC))
                  for n in range(hosts)]
        session.add_all(hosts_)
        # A few org-wide waivers, so the waiver path does real work.
        session.add_all([ComplianceException(org_id=org.id, rule_id=f"9.{n}", reason="bench", status="active")
                         for n in range(0, checks, 60)])
        await session.flush()
        return {"org": org.id, "template": template.id, "policy": policy.id, "hosts": [h.id for h in hosts_]}


async def open_completed_scans(sessionmaker, ctx: dict, hosts: list[uuid.UUID], drift: float) -> list[uuid.UUID]:
    """Running scans whose agent jobs have completed with a full result document, built set-based; the answers come
    in the order of the job's checks, as agents send them (agent/runner.py)."""
    scan_ids = [uuid.uuid4() for _ in hosts]
    async with sessionmaker() as session, session.begin():
        await session.execute(text("""
            INSERT INTO compliance_scans (id, org_id, host_id, policy_id, template_id, template_version, scan_type,
                                          status, workflow_id, result_data, total, passed, failed, errors, skipped,
                                          waived, started_at, created_at, updated_at)
            SELECT n.id, :org, n.host, :policy, :template, 1, 'scheduled', 'running', 'bench-ingest', '{}',
                   0, 0, 0, 0, 0, 0, now(), now(), now()
            FROM unnest(CAST(:ids AS uuid[]), CAST(:hosts AS uuid[])) AS n(id, host)
        """), {"ids": scan_ids, "hosts": hosts, "org": ctx["org"], "policy": ctx["policy"],
               "template": ctx["template"]})
        await session.execute(text("""
            INSERT INTO agent_jobs (id, org_id, host_id, kind, payload, status, scan_id, late, completion_pending,
                                    result, completed_at, created_at, updated_at)
            SELECT gen_random_uuid(), s.org_id, s.host_id, 'compliance_check', '{}', 'completed', s.id, false, false,
                   r.doc, now(), now(), now()
            FROM compliance_scans s
            CROSS JOIN LATERAL (
                SELECT jsonb_build_object('results', jsonb_agg(jsonb_build_object(
                    'check_id', c.id,
                    'status', CASE WHEN v.p < 75 THEN 'pass' WHEN v.p < 94 THEN 'fail'
                                   WHEN v.p < 95 THEN 'error' ELSE 'skip' END,
                    'actual', 'observed value ' || v.p) ORDER BY c.position)) AS doc
                FROM compliance_checks c
                CROSS JOIN LATERAL (SELECT CASE
                    WHEN abs(hashtext('drift' || s.id::text || c.rule_id)) % 10000 < :drift
                    THEN abs(hashtext(s.id::text || c.rule_id)) % 100
                    ELSE abs(hashtext(s.host_id::text || c.rule_id)) % 100 END AS p) v
                WHERE c.template_id = s.template_id
            ) r
            WHERE s.id = ANY(:ids)
        """), {"ids": scan_ids, "drift": round(drift * 10000)})
    return scan_ids


async def record(activities: ScanActivities, scan_ids: list[uuid.UUID], checks: int) -> tuple[float, int]:
    """The recording activity over the completed scans, timed."""
    started = time.perf_counter()
    outcome = await activities.record_scan_results(RecordInput(completed_scan_ids=[str(i) for i in scan_ids]))
    elapsed = time.perf_counter() - started
    assert outcome.recorded == len(scan_ids), "every scan must be recorded"
    return elapsed, outcome.recorded * checks


async def raised_by_recording(sessionmaker, org_id: uuid.UUID) -> str:
    """What the activity's alert, incident and remediation steps produced for the organization."""
    async with sessionmaker() as session:
        counts = (await session.execute(text("""
            SELECT (SELECT count(*) FROM notifications WHERE org_id = :org),
                   (SELECT count(*) FROM alerts WHERE org_id = :org),
                   (SELECT count(*) FROM incidents WHERE org_id = :org),
                   (SELECT count(*) FROM remediations WHERE org_id = :org)
        """), {"org": org_id})).one()
    return ", ".join(f"{n:,} {kind}" for n, kind in zip(counts, ("notifications", "alerts", "incidents",
                                                                   "remediations"), strict=True))


def copy_rows(conninfo: str, scan_ids: list[uuid.UUID]) -> tuple[float, int]:
    """Baseline: the rows just recorded, COPY'd by psycopg into a scratch table (row formatting included)."""
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute(f"SELECT {RESULT_COLUMNS} FROM scan_check_results WHERE scan_id = ANY(%s)",
                            (scan_ids,)).fetchall()
        started = time.perf_counter()
        with conn.transaction(), conn.cursor().copy(f"COPY {SCRATCH} ({RESULT_COLUMNS}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return time.perf_counter() - started, len(rows)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(sessionmaker, conninfo: str, args, drift: float) -> None:
    activities = ScanActivities(sessionmaker, Settings())
    ctx = await arrange(sessionmaker, args.checks, max(args.hosts, args.scans))
    pool, scans = ctx["hosts"], args.scans
    # Every host gets a first scan before timing starts: first scans insert every state row, once per host.
    for offset in range(0, len(pool), scans):
        await record(activities, await open_completed_scans(sessionmaker, ctx, pool[offset:offset + scans], drift),
                     args.checks)
    # A fleet in steady operation has planner statistics; a fresh database gets them from autovacuum only later.
    async with sessionmaker() as session, session.begin():
        await session.execute(text("ANALYZE"))

    batch_times, copy_times = [], []
    recorded = copied = 0
    for n in range(args.batches):
        offset = (n * scans) % len(pool)
        picked = (pool + pool)[offset:offset + scans]
        scan_ids = await open_completed_scans(sessionmaker, ctx, picked, drift)
        elapsed, results = await record(activities, scan_ids, args.checks)
        batch_times.append(elapsed)
        recorded += results
        copy_elapsed, rows = copy_rows(conninfo, scan_ids)
        copy_times.append(copy_elapsed)
        copied += rows

    # Several batch workflows record at once in the worker; their micro-batches overlap Python and database work.
    concurrent_wall, concurrent_results = 0.0, 0
    width = min(args.concurrency, len(pool) // scans)
    for _round in range(args.batches // width if width > 1 else 0):
        groups = [pool[k * scans:(k + 1) * scans] for k in range(width)]
        opened = [await open_completed_scans(sessionmaker, ctx, hosts, drift) for hosts in groups]
        started = time.perf_counter()
        outcomes = await asyncio.gather(*(record(activities, ids, args.checks) for ids in opened))
        concurrent_wall += time.perf_counter() - started
        concurrent_results += sum(results for _elapsed, results in outcomes)

    single_times = []
    for n in range(args.single):
        scan_ids = await open_completed_scans(sessionmaker, ctx, [pool[n % len(pool)]], drift)
        single_times.append((await record(activities, scan_ids, args.checks))[0])

    rate, copy_rate = recorded / sum(batch_times), copied / sum(copy_times)
    per_scan = [t / scans for t in batch_times]
    ms = 1000
    raised = await raised_by_recording(sessionmaker, ctx["org"])
    print(f"--- drift {drift:g} assumed: each scan draws {drift:.0%} of a host's outcomes anew (the rest repeat the "
          f"host's usual outcome)")
    print(f"scans x checks                {args.batches} micro-batches x {scans} scans x {args.checks} checks "
          f"= {recorded:,} check results ({len(pool)} hosts reused)")
    scans_per_s = recorded / args.checks / sum(batch_times)
    print(f"recording                     {rate:,.0f} check results/s ({scans_per_s:,.1f} scans/s)")
    print(f"  per micro-batch             p50 {statistics.median(batch_times) * ms:.0f} ms, "
          f"p99 {percentile(batch_times, 0.99) * ms:.0f} ms")
    print(f"  per scan (batch / {scans})       p50 {statistics.median(per_scan) * ms:.1f} ms, "
          f"p99 {percentile(per_scan, 0.99) * ms:.1f} ms")
    if single_times:
        print(f"  one-scan micro-batches      p50 {statistics.median(single_times) * ms:.1f} ms, "
              f"p99 {percentile(single_times, 0.99) * ms:.1f} ms ({args.single} runs)")
    if concurrent_wall:
        print(f"  {width} micro-batches at once   {concurrent_results / concurrent_wall:,.0f} check results/s "
              f"(wall clock, {concurrent_results:,} results)")
    print(f"  raised besides history      {raised}")
    print(f"baseline: COPY same rows      {copy_rate:,.0f} rows/s ({copied:,} rows)")
    print(f"ratio recording : COPY        {rate / copy_rate:.2f}  (target >= 0.50)")
    if concurrent_wall:
        print(f"ratio {width} at once : COPY      {concurrent_results / concurrent_wall / copy_rate:.2f}")


async def run(args) -> None:
    async with fresh_database() as (db_url, engine):
        tune_garbage_collector()  # as the worker process that runs the recording activity does
        conninfo = libpq_url(db_url)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f"CREATE TABLE {SCRATCH} (LIKE scan_check_results INCLUDING DEFAULTS)")
        for drift in args.drift:
            await measure(sessionmaker_for(engine), conninfo, args, drift)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--scans", type=int, default=50)
    parser.add_argument("--checks", type=int, default=300)
    parser.add_argument("--hosts", type=int, default=250)
    parser.add_argument("--single", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=2, help="micro-batches recorded at once, second run")
    parser.add_argument("--drift", type=lambda v: [float(d) for d in v.split(",")], default=[0.05, 1.0])
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
