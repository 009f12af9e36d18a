"""Vulnerability matching at fleet size: full and incremental, through services.vuln_matching.match_org.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python -m bench.vuln_matching [--hosts 10000] [--packages 2000] [--sets 100] [--affected 50000]

Seeds one organization in SQL (no ORM object per row): `--hosts` Debian 12 hosts, each pointing at one of `--sets`
distinct package sets of `--packages` source packages (a common base plus a slice of its own, versions varying by
set), drawn from a pool of 8,000 package names. The `--affected` ranges (OSV events `introduced 0`, `fixed X`,
about six CVEs per package name) are imported through services.vulnerabilities.import_osv, as a feed sync would;
most fixed versions are older than what the sets have installed, a few are newer, so each set has some dozens
of open vulnerabilities, as an up-to-date-but-not-quite fleet does.

Then, each in its own transaction, as VulnMatchingWorkflow's activity runs it:
- **full**: match_org with no set matched yet (every candidate compared in dpkg order, package-set and host
  vulnerabilities written);
- **incremental**, twice: 1 % of the ranges re-imported with new fixed versions (half of them now newer than
  installed, half older), then match_org again (only the changed ranges compared; every open host vulnerability
  refreshed, new ones opened, fixed ones resolved): once right after the full match, once after a VACUUM, as
  autovacuum leaves the tables between two runs of the 6-hourly schedule.

Baselines in the same run, on the same rows: a plain SQL join of the hosts' inventories with the affected ranges
by (ecosystem, package), comparing versions as text (wrong for dpkg, but the cheapest thing SQL can do), counted;
for the incremental run the same join restricted to the changed ranges. Targets: full <= 30 s, incremental <= 5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import UTC, datetime

from sqlalchemy import text

from bench.harness import fresh_database, sessionmaker_for
from domain.vuln_osv import Affected
from services import vulnerabilities as feeds
from services.vuln_matching import match_org

FULL_TARGET_S, INCREMENTAL_TARGET_S = 30.0, 5.0
POOL = 8000
ECOSYSTEM = "Debian:12"
COMMON = 0.8  # share of each set's packages that every set has

SEED = ("""
    INSERT INTO package_sets (id, digest, ecosystem, package_count)
    SELECT gen_random_uuid(), 'bench-' || s, :eco, :packages FROM generate_series(0, :sets - 1) AS s
""", """
    CREATE TEMP TABLE bench_sets ON COMMIT DROP AS
    SELECT id, CAST(substr(digest, 7) AS int) AS s FROM package_sets WHERE digest LIKE 'bench-%'
""", """
    INSERT INTO package_set_items (package_set_id, name, version, source_name, source_version, arch,
                                   match_name, match_version)
    SELECT b.id, p.name, p.version, p.name, p.version, 'amd64', p.name, p.version
    FROM bench_sets b
    CROSS JOIN LATERAL (
        SELECT format('pkg%s', j) AS name,
               format('%s:%s.%s-%s', j % 2, 1 + j % 7, (j + b.s) % 10, 1 + b.s % 3) AS version
        FROM (SELECT CASE WHEN k < :common THEN k
                          ELSE :common + (k + b.s * 97) % (:pool - :common) END AS j
              FROM generate_series(0, :packages - 1) AS k) AS picked
    ) AS p
""", """
    INSERT INTO hosts (id, org_id, hostname, ip_address, os_type, os_name, os_version, last_seen,
                       created_at, updated_at)
    SELECT gen_random_uuid(), :org, format('deb-%s', lpad(n::text, 6, '0')),
           format('10.%s.%s.%s', n / 65536, n / 256 % 256, n % 256), 'linux', 'Debian', '12', now(), now(), now()
    FROM generate_series(1, :hosts) AS n
""", """
    INSERT INTO host_inventories (host_id, org_id, package_set_id, status, os_id, os_version_id, ecosystem,
                                  collected_at)
    SELECT h.id, h.org_id, b.id, 'ok', 'debian', '12', :eco, now()
    FROM (SELECT id, org_id, row_number() OVER (ORDER BY hostname) AS n FROM hosts WHERE org_id = :org) AS h
    JOIN bench_sets b ON b.s = h.n % :sets
""")

BASELINE = """
    SELECT count(*) FROM host_inventories h
    JOIN package_set_items i ON i.package_set_id = h.package_set_id
    JOIN affected_packages a ON a.ecosystem = h.ecosystem AND a.package = i.match_name
    WHERE h.org_id = :org AND a.change_seq > :after AND i.match_version < a.fixed_version
"""


def affected_row(n: int, *, newer: bool | None = None, bump: int = 0) -> Affected:
    """Range n: a CVE of package pkg<j> fixed in a version older than every installed one, or (one row in 150
    unless `newer` says) in a version about half of the sets have not reached yet."""
    j = (n * 7919) % POOL
    if newer is None:
        newer = n % 150 == 0
    minor = (n + bump) % 10
    fixed = f"{j % 2}:{1 + j % 7}.{minor}-2" if newer else f"{j % 2}:{j % 7}.{minor}-1"
    return Affected(cve_id=f"CVE-2099-{100000 + n}", ecosystem=ECOSYSTEM, package=f"pkg{j}",
                    ranges=[{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}],
                    fixed_version=fixed, advisory_id=f"BENCH-{n}", summary=None, modified=None)


async def timed_match(sessionmaker, org_id: uuid.UUID):
    started = time.perf_counter()
    async with sessionmaker() as session, session.begin():
        result = await match_org(session, org_id, datetime.now(UTC))
    return result, time.perf_counter() - started


async def baseline(sessionmaker, org_id: uuid.UUID, after: int) -> tuple[int, float]:
    started = time.perf_counter()
    async with sessionmaker() as session:
        rows = await session.scalar(text(BASELINE), {"org": org_id, "after": after})
    return rows, time.perf_counter() - started


async def run(hosts: int, packages: int, sets: int, affected: int) -> None:
    async with fresh_database() as (_, engine):
        sessionmaker = sessionmaker_for(engine)
        org_id = uuid.uuid4()
        started = time.perf_counter()
        async with sessionmaker() as session, session.begin():
            await session.execute(text("INSERT INTO organizations (id, name, created_at, updated_at) "
                                       "VALUES (:org, 'bench-vuln', now(), now())"), {"org": org_id})
            params = {"org": org_id, "eco": ECOSYSTEM, "hosts": hosts, "packages": packages, "sets": sets,
                      "pool": POOL, "common": int(packages * COMMON)}
            for statement in SEED:
                await session.execute(text(statement), params)
        seeded = time.perf_counter() - started
        started = time.perf_counter()
        async with sessionmaker() as session, session.begin():
            await feeds.lock_feeds(session, exclusive=True)
            await feeds.import_osv(session, [affected_row(n) for n in range(affected)])
        imported = time.perf_counter() - started
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE"))
        print(f"seed: {hosts:,} hosts, {sets} package sets x {packages:,} packages in {seeded:.1f} s; "
              f"{affected:,} affected ranges imported through import_osv in {imported:.1f} s")

        base_full_rows, base_full = await baseline(sessionmaker, org_id, 0)
        full, full_s = await timed_match(sessionmaker, org_id)
        print(f"full match         {full_s:6.2f} s  ({full.package_sets_matched} sets matched, "
              f"{full.opened:,} host vulnerabilities opened)  target <= {FULL_TARGET_S:.0f} s: "
              f"{'met' if full_s <= FULL_TARGET_S else 'MISSED'}")
        print(f"  baseline: plain SQL join, text order, count  {base_full:6.2f} s  ({base_full_rows:,} rows)  "
              f"ratio {full_s / base_full:.1f}x")

        # Two changes of the same 1 % of the ranges: right after the full match (every host row was just written),
        # half of them get a fixed version some sets have not reached; then, after a VACUUM as autovacuum leaves
        # the tables between two 6-hourly runs, the advisories are corrected to older fixed versions again.
        for round_, (newer, when) in enumerate(((True, "right after the full match"),
                                                (False, "after a VACUUM (steady state)"))):
            if round_:
                async with engine.connect() as conn:
                    await conn.execution_options(isolation_level="AUTOCOMMIT")
                    await conn.execute(text("VACUUM ANALYZE"))
            await incremental_round(sessionmaker, org_id, affected, newer, when)


async def incremental_round(sessionmaker, org_id: uuid.UUID, affected: int, newer: bool, when: str) -> None:
    """1 % of the ranges re-imported with new fixed versions (with `newer`, half of them newer than what some sets
    have installed), then matched."""
    async with sessionmaker() as session:
        before = await session.scalar(text("SELECT max(change_seq) FROM affected_packages"))
    changed = max(1, affected // 100)
    started = time.perf_counter()
    async with sessionmaker() as session, session.begin():
        await feeds.lock_feeds(session, exclusive=True)
        step = affected // changed
        await feeds.import_osv(session, [affected_row(n, newer=newer and i % 2 == 0, bump=3)
                                         for i, n in enumerate(range(7, affected, step))][:changed])
    reimported = time.perf_counter() - started
    base_rows, base_s = await baseline(sessionmaker, org_id, before)
    result, seconds = await timed_match(sessionmaker, org_id)
    print(f"feed change {when}: {changed:,} ranges (1 %) re-imported in {reimported:.2f} s")
    print(f"incremental match  {seconds:6.2f} s  ({result.package_sets_matched} sets matched, "
          f"{result.opened:,} opened, {result.resolved:,} resolved, {result.open:,} open)  "
          f"target <= {INCREMENTAL_TARGET_S:.0f} s: {'met' if seconds <= INCREMENTAL_TARGET_S else 'MISSED'}")
    print(f"  baseline: plain SQL join over the changed ranges  {base_s:6.2f} s  ({base_rows:,} rows)  "
          f"ratio {seconds / base_s:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--packages", type=int, default=2000)
    parser.add_argument("--sets", type=int, default=100)
    parser.add_argument("--affected", type=int, default=50_000)
    args = parser.parse_args()
    asyncio.run(run(args.hosts, args.packages, args.sets, args.affected))


if __name__ == "__main__":
    main()
