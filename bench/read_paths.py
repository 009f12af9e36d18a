"""Read paths over a large fleet: dashboard, trends, report pages and the CSV export, through the API over real HTTP.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python -m bench.read_paths [--hosts 10000] [--checks 300] [--days 90] [--requests 50]

Seeds two organizations set-based in SQL (INSERT … SELECT over generate_series, no ORM object per row): the large
one with `--hosts` hosts under one policy on a published template of `--checks` checks, and a small one with a
fiftieth of the hosts, so every query has to scope. Each host gets its latest state (check_states, hosts × checks
rows: a pass/fail/error/skip/waived mix that varies by host and by check, with `actual` text; host_policy_status
agreeing with it) and one completed scan a day for `--days` days (compliance_scans, with counts and scores). The
per-check history of those scans is not seeded: at full size it would be 270 million check results, and none of
these routes reads it. The database is then vacuumed and analyzed, as autovacuum leaves it in steady operation.

The API runs under uvicorn in its own process; a viewer of both organizations asks about the large one. Prints p50
and p95 over `--requests` sequential requests (after 3 warm-ups) for the dashboard, 90-day trends, the first and the
last report page; then, for the CSV export of the small and of the large organization, rows/s, time to first byte
and the server process's RSS before, at its peak during, and after the export (flat memory: the peak does not grow
with the rows). Baselines in the same run: GET /healthz over as many requests, and psycopg COPY of the export's rows
(the same join, filter and order) as CSV. Targets: p95 <= 200 ms for the dashboard and the report page; CSV
>= 50,000 rows/s with flat memory.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from pathlib import Path

import httpx
import psycopg
from psycopg import sql

from api.routes.reports import TREND_DAYS
from bench.api_load import percentile
from bench.harness import api_process, fresh_database, sessionmaker_for
from config import Settings
from models.db import libpq_url
from stack.ports import free_port

WARM_UPS = 3
LATENCY_TARGET_MS = 200
CSV_TARGET_ROWS_PER_SECOND = 50_000
VIEWER, PASSWORD = "read-paths-viewer", "read-paths-pw"

# Each host fails a share of its checks between 5 % and 35 %, and some checks fail more often than others, so
# scores spread out and the failing-check ranking has a shape.
SEED_HOSTS = ("""
    CREATE TEMP TABLE bench_hosts ON COMMIT DROP AS
    SELECT gen_random_uuid() AS host_id, n, 0.05 + 0.30 * random() AS fail_rate,
           now() - random() * interval '6 hours' AS scanned_at, gen_random_uuid() AS scan_id
    FROM generate_series(1, %(hosts)s) AS n
""", """
    INSERT INTO hosts (id, org_id, hostname, ip_address, os_type, os_name, os_version, last_seen)
    SELECT host_id, %(org)s,
           format('%%s-%%s-%%s', CAST(%(prefix)s AS text), (ARRAY['web', 'db', 'app', 'cache', 'batch'])[1 + n %% 5],
                  lpad(n::text, 6, '0')),
           format('10.%%s.%%s.%%s', n / 65536, n / 256 %% 256, n %% 256), 'linux', 'Ubuntu', '22.04', now()
    FROM bench_hosts
""")
SEED_HISTORY = ("""
    INSERT INTO compliance_scans (id, org_id, host_id, policy_id, template_id, template_version, scan_type, status,
                                  total, passed, failed, errors, skipped, waived, score, workflow_id,
                                  started_at, completed_at, created_at, updated_at)
    SELECT gen_random_uuid(), %(org)s, h.host_id, %(policy)s, %(template)s, 1, 'scheduled', 'completed',
           %(checks)s, %(checks)s - c.failed - c.errors - c.skipped - c.waived, c.failed, c.errors, c.skipped, c.waived,
           round((%(checks)s - c.failed - c.errors - c.skipped - c.waived) * 100.0
                 / (%(checks)s - c.errors - c.skipped - c.waived), 2),
           'bench-read-paths', c.done - interval '4 minutes', c.done, c.done - interval '5 minutes', c.done
    FROM bench_hosts AS h
    CROSS JOIN generate_series(1, %(days)s - 1) AS d
    CROSS JOIN LATERAL (
        SELECT round(%(checks)s * least(0.9, h.fail_rate * (0.8 + 0.4 * random())))::int AS failed,
               round(%(checks)s * 0.02 * random())::int AS errors,
               round(%(checks)s * 0.05)::int AS skipped, round(%(checks)s * 0.03)::int AS waived,
               h.scanned_at - d * interval '1 day' - random() * interval '2 hours' AS done
    ) AS c
""", """
    INSERT INTO compliance_scans (id, org_id, host_id, policy_id, template_id, template_version, scan_type, status,
                                  total, passed, failed, errors, skipped, waived, workflow_id,
                                  started_at, completed_at, created_at, updated_at)
    SELECT scan_id, %(org)s, host_id, %(policy)s, %(template)s, 1, 'scheduled', 'completed', 0, 0, 0, 0, 0, 0,
           'bench-read-paths', scanned_at - interval '4 minutes', scanned_at, scanned_at - interval '5 minutes',
           scanned_at
    FROM bench_hosts
""")
SEED_LATEST = ("""
    INSERT INTO check_states (host_id, policy_id, check_id, org_id, rule_id, status, actual, exception_id, scan_id,
                              updated_at)
    SELECT h.host_id, %(policy)s, c.id, %(org)s, c.rule_id, s.status,
           CASE s.status WHEN 'fail' THEN format('expected %%s, found %%s', c.position %% 7, 7 + c.position %% 5)
                         WHEN 'error' THEN 'command timed out after 30 s'
                         WHEN 'skip' THEN 'not applicable on this host'
                         ELSE format('value %%s matches', c.position %% 7) END,
           NULL, h.scan_id, h.scanned_at
    FROM bench_hosts AS h
    CROSS JOIN compliance_checks AS c
    CROSS JOIN LATERAL (SELECT random() AS u, h.fail_rate * (0.5 + (c.position %% 7) / 6.0) AS fail) AS r
    CROSS JOIN LATERAL (
        SELECT CASE WHEN r.u < r.fail THEN 'fail' WHEN r.u > 0.97 THEN 'waived' WHEN r.u > 0.92 THEN 'skip'
                    WHEN r.u > 0.90 THEN 'error' ELSE 'pass' END AS status
    ) AS s
    WHERE c.template_id = %(template)s
    ORDER BY h.host_id, c.id
""", """
    INSERT INTO host_policy_status (host_id, policy_id, org_id, scan_id, template_id, score, total, passed, failed,
                                    errors, skipped, waived, last_completed_at)
    SELECT h.host_id, %(policy)s, %(org)s, h.scan_id, %(template)s,
           round(t.passed * 100.0 / nullif(t.total - t.skipped - t.errors - t.waived, 0), 2),
           t.total, t.passed, t.failed, t.errors, t.skipped, t.waived, h.scanned_at
    FROM bench_hosts AS h
    JOIN (SELECT host_id, count(*) AS total, count(*) FILTER (WHERE status = 'pass') AS passed,
                 count(*) FILTER (WHERE status = 'fail') AS failed, count(*) FILTER (WHERE status = 'error') AS errors,
                 count(*) FILTER (WHERE status = 'skip') AS skipped,
                 count(*) FILTER (WHERE status = 'waived') AS waived
          FROM check_states WHERE org_id = %(org)s GROUP BY host_id) AS t USING (host_id)
""", """
    UPDATE compliance_scans AS s
    SET total = p.total, passed = p.passed, failed = p.failed, errors = p.errors, skipped = p.skipped,
        waived = p.waived, score = p.score
    FROM host_policy_status AS p
    WHERE p.org_id = %(org)s AND s.id = p.scan_id
""")
# The rows the export route streams, in its order: the COPY baseline reads exactly these.
EXPORT_QUERY = """
    SELECT h.hostname, h.ip_address, cs.policy_id, p.name, t.name, t.version, cs.rule_id, c.title, c.severity,
           cs.status, cs.actual, hps.last_completed_at
    FROM check_states AS cs
    JOIN hosts AS h ON h.id = cs.host_id
    JOIN compliance_policies AS p ON p.id = cs.policy_id
    JOIN host_policy_status AS hps ON hps.host_id = cs.host_id AND hps.policy_id = cs.policy_id
    JOIN compliance_templates AS t ON t.id = hps.template_id
    JOIN compliance_checks AS c ON c.id = cs.check_id
    WHERE cs.org_id = {org}
    ORDER BY h.hostname, cs.policy_id, c.position, cs.rule_id
"""


def seed_org(conn: psycopg.Connection, name: str, hosts: int, checks: int, days: int) -> uuid.UUID:
    """One organization with a policy on its own published template, its fleet, history and latest state."""
    org = conn.execute("INSERT INTO organizations (id, name) VALUES (gen_random_uuid(), %s) RETURNING id",
                       [name]).fetchone()[0]
    template = conn.execute("""
        INSERT INTO compliance_templates (id, org_id, name, os_type, framework, level, version, status, is_system,
                                          scan_interval_hours, lineage_id, published_at)
        VALUES (gen_random_uuid(), %s, 'Bench CIS Ubuntu 22.04', 'linux', 'CIS', 1, 1, 'published', false, 24,
                gen_random_uuid(), now())
        RETURNING id
    """, [org]).fetchone()[0]
    conn.execute("""
        INSERT INTO compliance_checks (id, template_id, rule_id, title, severity, rule, enabled, frameworks,
                                       remediation_type, remediation_requires_change, position)
        SELECT gen_random_uuid(), %(template)s, format('%%s.%%s.%%s', 1 + n / 100, 1 + n / 10 %% 10, 1 + n %% 10),
               format('Ensure bench setting %%s is configured', n),
               (ARRAY['critical', 'high', 'medium', 'low'])[1 + n %% 4],
               jsonb_build_object('type', 'file_exists', 'path', '/etc/bench/' || n), true, '{}', 'none', false, n
        FROM generate_series(0, %(checks)s - 1) AS n
    """, {"template": template, "checks": checks})
    policy = conn.execute("""
        INSERT INTO compliance_policies (id, org_id, name, os_type, template_id, scan_interval_hours, batch_size,
                                         approval_mode, auto_remediate_critical, auto_remediate_high,
                                         auto_remediate_medium, auto_remediate_low, enabled)
        VALUES (gen_random_uuid(), %s, 'Linux servers', 'linux', %s, 24, 1000, 'auto', false, false, false, false,
                true)
        RETURNING id
    """, [org, template]).fetchone()[0]
    params = {"org": org, "template": template, "policy": policy, "hosts": hosts, "checks": checks, "days": days,
              "prefix": name}
    for statement in (*SEED_HOSTS, *SEED_HISTORY, *SEED_LATEST):
        conn.execute(statement, params)
    conn.commit()
    return org


def seed(db_url: str, fleets: dict[str, int], checks: int, days: int) -> dict[str, uuid.UUID]:
    """Organizations named after `fleets`' keys, with that many hosts each; returns their ids."""
    with psycopg.connect(libpq_url(db_url)) as conn:
        orgs = {name: seed_org(conn, name, hosts, checks, days) for name, hosts in fleets.items()}
    with psycopg.connect(libpq_url(db_url), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    return orgs


async def make_viewer(sessionmaker, orgs: list[uuid.UUID]) -> None:
    from api.security import hash_password
    from models import Membership, User

    async with sessionmaker() as session, session.begin():
        user = User(username=VIEWER, password_hash=hash_password(PASSWORD))
        session.add(user)
        await session.flush()
        session.add_all([Membership(user_id=user.id, org_id=org, role="viewer") for org in orgs])


def api_settings(db_url: str) -> Settings:
    """The API needs no Temporal server for these routes: an address where none listens will do."""
    return Settings(database_url=db_url, environment="test", jwt_secret="bench-" + "x" * 40,
                    temporal_address=f"127.0.0.1:{free_port()}")


async def latencies(http: httpx.AsyncClient, url: str, requests: int, headers: dict | None = None) -> list[float]:
    for _ in range(WARM_UPS):
        (await http.get(url, headers=headers)).raise_for_status()
    seconds = []
    for _ in range(requests):
        started = time.perf_counter()
        response = await http.get(url, headers=headers)
        seconds.append(time.perf_counter() - started)
        response.raise_for_status()
    return seconds


def memory_kb(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields


async def export(http: httpx.AsyncClient, url: str, headers: dict, pid: int) -> dict:
    """Stream one export; rows are counted by newline (the seeded text has none inside a field)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # peak RSS := current RSS, so VmHWM is this export's peak
    before = memory_kb(pid)["VmRSS"]
    newlines, first_byte = 0, None
    started = time.perf_counter()
    async with http.stream("GET", url, headers=headers) as response:
        response.raise_for_status()
        async for chunk in response.aiter_raw():
            first_byte = first_byte or time.perf_counter() - started
            newlines += chunk.count(b"\n")
    seconds = time.perf_counter() - started
    after = memory_kb(pid)
    return {"rows": newlines - 1, "seconds": seconds, "first_byte": first_byte, "before": before,
            "peak": after["VmHWM"], "after": after["VmRSS"]}


def copy_baseline(db_url: str, org: uuid.UUID) -> tuple[int, float]:
    """The export's rows as CSV through psycopg COPY: rows and seconds."""
    query = sql.SQL("COPY ({}) TO STDOUT (FORMAT csv, HEADER)").format(
        sql.SQL(EXPORT_QUERY).format(org=sql.Literal(org)))
    newlines = 0
    started = time.perf_counter()
    with psycopg.connect(libpq_url(db_url)) as conn, conn.cursor().copy(query) as copy:
        for block in copy:
            newlines += bytes(block).count(b"\n")
    return newlines - 1, time.perf_counter() - started


def row_count(db_url: str, org: uuid.UUID) -> int:
    with psycopg.connect(libpq_url(db_url)) as conn:
        return conn.execute("SELECT count(*) FROM check_states WHERE org_id = %s", [org]).fetchone()[0]


def print_latency(label: str, seconds: list[float], baseline: list[float] | None, target: float | None) -> None:
    p50, p95 = percentile(seconds, 0.5), percentile(seconds, 0.95)
    line = f"{label:34s} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms"
    if baseline is not None:
        line += f"  p95 / healthz p95 {p95 / percentile(baseline, 0.95):6.1f}"
    if target is not None:
        line += f"  target p95 <= {target:.0f} ms: {'met' if p95 <= target else 'MISSED'} ({p95 / target:.2f})"
    print(line, flush=True)


def print_export(label: str, e: dict) -> float:
    rate = e["rows"] / e["seconds"]
    print(f"{label:34s} {e['rows']:9,d} rows in {e['seconds']:6.1f} s = {rate:9,.0f} rows/s  "
          f"first byte {e['first_byte'] * 1000:7.0f} ms", flush=True)
    print(f"{'':34s} server RSS {e['before'] / 1024:6.1f} MB before, peak {e['peak'] / 1024:6.1f} MB "
          f"(+{(e['peak'] - e['before']) / 1024:.1f} MB), {e['after'] / 1024:6.1f} MB after", flush=True)
    return rate


def print_exports(small: dict, large: dict, copy: tuple[int, float]) -> None:
    print_export("CSV export, small org", small)
    rate = print_export("CSV export, large org", large)
    copy_rows, copy_seconds = copy
    copy_speed = copy_rows / copy_seconds
    print(f"{'  baseline psycopg COPY, same rows':34s} {copy_rows:9,d} rows in {copy_seconds:6.1f} s = "
          f"{copy_speed:9,.0f} rows/s  API / COPY {rate / copy_speed:.2f}", flush=True)
    verdict = "met" if rate >= CSV_TARGET_ROWS_PER_SECOND else "MISSED"
    print(f"{'':34s} target >= {CSV_TARGET_ROWS_PER_SECOND:,} rows/s: {verdict} "
          f"({rate / CSV_TARGET_ROWS_PER_SECOND:.2f})", flush=True)
    growth = [(e["peak"] - e["before"]) / 1024 for e in (small, large)]
    print(f"{'memory':34s} peak growth {growth[1]:.1f} MB for {large['rows']:,} rows vs {growth[0]:.1f} MB for "
          f"{small['rows']:,} rows: {growth[1] / max(growth[0], 0.1):.2f}x for {large['rows'] / small['rows']:.0f}x "
          f"the rows", flush=True)


async def measure(http: httpx.AsyncClient, root: str, orgs: dict, pid: int, hosts: int, days: int,
                  requests: int) -> dict[str, dict]:
    """Print each route's latencies against the health check; return the two exports' figures."""
    token = await http.post(f"{root}/api/v1/auth/token", data={"username": VIEWER, "password": PASSWORD})
    headers = {"Authorization": f"Bearer {token.raise_for_status().json()['access_token']}"}
    healthz = await latencies(http, f"{root}/healthz", requests)
    print_latency("baseline GET /healthz", healthz, None, None)
    base, large = f"{root}/api/v1/compliance", f"org_id={orgs['large']}"
    trend_days = next((d for d in TREND_DAYS if d >= days), TREND_DAYS[-1])
    last_page = -(-hosts // 50)
    routes = [("GET dashboard", f"/dashboard?{large}", LATENCY_TARGET_MS),
              (f"GET trends?days={trend_days}", f"/trends?days={trend_days}&{large}", None),
              ("GET report page 1", f"/report?page_size=50&{large}", LATENCY_TARGET_MS),
              (f"GET report page {last_page} (last)", f"/report?page_size=50&page={last_page}&{large}",
               LATENCY_TARGET_MS)]
    for label, path, target in routes:
        print_latency(label, await latencies(http, base + path, requests, headers), healthz, target)
    return {name: await export(http, f"{base}/export.csv?org_id={org}", headers, pid) for name, org in orgs.items()}


async def run(hosts: int, checks: int, days: int, requests: int) -> None:
    small_hosts = max(hosts // 50, 10)
    async with fresh_database() as (db_url, engine):
        started = time.perf_counter()
        orgs = seed(db_url, {"small": small_hosts, "large": hosts}, checks, days)
        print(f"seeded {hosts:,} + {small_hosts:,} hosts x {checks} checks of latest state and {days} days of scans "
              f"in {time.perf_counter() - started:.1f} s (including VACUUM ANALYZE)", flush=True)
        await make_viewer(sessionmaker_for(engine), list(orgs.values()))
        with api_process(api_settings(db_url), "read-paths") as (base_url, server):
            async with httpx.AsyncClient(timeout=600) as http:
                exports = await measure(http, base_url, orgs, server.pid, hosts, days, requests)
        for name, org in orgs.items():
            if exports[name]["rows"] != (expected := row_count(db_url, org)):
                raise RuntimeError(f"the {name} export streamed {exports[name]['rows']} rows, not {expected}")
        print_exports(exports["small"], exports["large"], copy_baseline(db_url, orgs["large"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=10000)
    parser.add_argument("--checks", type=int, default=300)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(run(args.hosts, args.checks, args.days, args.requests))


if __name__ == "__main__":
    main()
