"""Audit hash-chain verification over 1M rows (target: ≤ 30 s), seeded through the chaining trigger.

    .venv/bin/python -m bench.audit_verify [--rows 1000000] [--orgs 10]

Prints the trigger's insert rate, the verifier's rows/s and, measured in the same run, two baselines: a plain
`SELECT count(*)` and a server-side-cursor scan of the same columns without hashing (the read ceiling).
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

import psycopg

from api.audit_verify import CHAIN_COLUMNS, verify
from bench.harness import fresh_database
from models.db import libpq_url

CHUNK = 50_000


def seed(conninfo: str, rows: int, orgs: list[uuid.UUID | None]) -> float:
    """Insert `rows` audit rows spread over the chains, CHUNK per statement (the trigger chains each row)."""
    started = time.perf_counter()
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for offset in range(0, rows, CHUNK):
            conn.execute("""
                INSERT INTO audit_log (org_id, actor_type, actor_id, actor_name, action, target_type, target_id,
                                       before, after)
                SELECT (CAST(%(orgs)s AS uuid[]))[1 + g %% cardinality(CAST(%(orgs)s AS uuid[]))], 'user',
                       gen_random_uuid(), 'bench-user', 'policy.update', 'policy', CAST(gen_random_uuid() AS text),
                       jsonb_build_object('batch_size', g %% 500, 'enabled', true),
                       jsonb_build_object('batch_size', g %% 700, 'enabled', g %% 2 = 0, 'note', 'ünïcode ✓')
                FROM generate_series(%(start)s, %(stop)s) g
            """, {"orgs": orgs, "start": offset, "stop": min(offset + CHUNK, rows) - 1})
    return time.perf_counter() - started


def baselines(conninfo: str) -> tuple[float, float]:
    with psycopg.connect(conninfo) as conn:
        started = time.perf_counter()
        conn.execute("SELECT count(*) FROM audit_log").fetchone()
        count_seconds = time.perf_counter() - started
        started = time.perf_counter()
        with conn.transaction(), conn.cursor(name="scan") as cursor:
            cursor.execute(CHAIN_COLUMNS + " ORDER BY audit_log.org_id, audit_log.id")
            while cursor.fetchmany(20_000):
                pass
        return count_seconds, time.perf_counter() - started


async def run(rows: int, org_count: int) -> None:
    async with fresh_database() as (db_url, _engine):
        conninfo = libpq_url(db_url)
        orgs: list[uuid.UUID | None] = [uuid.uuid4() for _ in range(org_count)] + [None]
        seed_seconds = seed(conninfo, rows, orgs)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE audit_log")
        count_seconds, scan_seconds = baselines(conninfo)
        report = verify(conninfo)

    print(f"rows                          {report.rows:,} in {report.chains} chains (intact: {report.intact})")
    print(f"seed through the trigger      {seed_seconds:.1f} s ({rows / seed_seconds:,.0f} rows/s)")
    print(f"verify                        {report.seconds:.2f} s ({report.rows_per_second:,.0f} rows/s)"
          f"  (target: 1M rows <= 30 s)")
    print(f"baseline: SELECT count(*)     {count_seconds:.2f} s ({rows / count_seconds:,.0f} rows/s)")
    print(f"baseline: cursor scan, no hash {scan_seconds:.2f} s ({rows / scan_seconds:,.0f} rows/s)")
    print(f"ratio verify : scan           {scan_seconds / report.seconds:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--orgs", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(run(args.rows, args.orgs))


if __name__ == "__main__":
    main()
