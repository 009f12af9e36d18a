"""Package inventories and vulnerability matching: asking hosts for inventories, storing them content-addressed,
matching each distinct package set incrementally, and keeping host_vulnerabilities open/resolved."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from domain.vuln_inventory import Inventory, read_result
from domain.vuln_versions import is_affected
from services import patch_deployments, vuln_alerts
from services import vulnerabilities as feeds
from services.scans import JOBS_CHANNEL


@dataclass
class InventoryAsk:
    jobs: dict[uuid.UUID, list[uuid.UUID]]  # open inventory jobs per organization
    orgs: list[uuid.UUID]  # every organization with something to match
    asked: int  # hosts asked now


async def request_inventories(session: AsyncSession, now: datetime, online_within: timedelta,
                              max_age: timedelta) -> InventoryAsk:
    """Open an `inventory` job for every online host with no inventory or one older than `max_age` (at most one
    open job per host)."""
    asked = set(await session.scalars(text("""
        INSERT INTO agent_jobs (id, org_id, host_id, kind, payload, status, late, completion_pending,
                                created_at, updated_at)
        SELECT gen_random_uuid(), h.org_id, h.id, 'inventory', '{}'::jsonb, 'pending', false, false, :now, :now
        FROM hosts h LEFT JOIN host_inventories i ON i.host_id = h.id
        WHERE h.last_seen >= :online_since AND (i.host_id IS NULL OR i.collected_at < :stale_before)
        ON CONFLICT DO NOTHING
        RETURNING host_id
    """), {"now": now, "online_since": now - online_within, "stale_before": now - max_age}))
    if asked:  # wakes the long polls (a notification naming no host concerns every host)
        await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": JOBS_CHANNEL})
    jobs = (await session.execute(text("""
        SELECT org_id, id FROM agent_jobs
        WHERE kind = 'inventory' AND status IN ('pending', 'delivered')
        ORDER BY org_id, created_at, id
    """))).all()
    per_org: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for org_id, job_id in jobs:
        per_org[org_id].append(job_id)
    inventoried = await session.scalars(text("SELECT DISTINCT org_id FROM host_inventories ORDER BY org_id"))
    orgs = sorted(set(per_org) | set(inventoried))
    return InventoryAsk(jobs=dict(per_org), orgs=orgs, asked=len(asked))


@dataclass
class StoredBatch:
    stored: int
    new_package_sets: int
    timed_out: int


async def store_inventories(session: AsyncSession, completed: list[uuid.UUID], timed_out: list[uuid.UUID]
                            ) -> StoredBatch:
    """Point each answering host at the package set of its inventory, storing a set only the first time its
    digest is seen; jobs that were not answered in time are closed (the host keeps its last inventory)."""
    closed = await session.execute(text("""
        UPDATE agent_jobs SET status = 'timed_out', updated_at = now()
        WHERE id = ANY(CAST(:ids AS uuid[])) AND status IN ('pending', 'delivered')
    """), {"ids": timed_out})
    rows = (await session.execute(text("""
        SELECT host_id, org_id, result, completed_at FROM agent_jobs
        WHERE id = ANY(CAST(:ids AS uuid[])) AND kind = 'inventory' AND status = 'completed'
    """), {"ids": completed})).all()
    reports = [(row.host_id, row.org_id, row.completed_at, read_result(row.result or {})) for row in rows]
    sets = {inv.digest: inv for *_, inv in reports if inv.supported}
    set_ids, created = await _package_sets(session, list(sets.values()))
    await session.execute(text("""
        INSERT INTO host_inventories (host_id, org_id, package_set_id, status, os_id, os_version_id, ecosystem,
                                      collected_at)
        SELECT * FROM unnest(CAST(:hosts AS uuid[]), CAST(:orgs AS uuid[]), CAST(:sets AS uuid[]),
                             CAST(:statuses AS text[]), CAST(:os_ids AS text[]), CAST(:versions AS text[]),
                             CAST(:ecosystems AS text[]), CAST(:collected AS timestamptz[]))
        ON CONFLICT (host_id) DO UPDATE SET
            package_set_id = excluded.package_set_id, status = excluded.status, os_id = excluded.os_id,
            os_version_id = excluded.os_version_id, ecosystem = excluded.ecosystem,
            collected_at = excluded.collected_at
        WHERE host_inventories.collected_at <= excluded.collected_at
    """), {"hosts": [h for h, *_ in reports], "orgs": [o for _, o, *_ in reports],
           "sets": [set_ids.get(inv.digest) if inv.supported else None for *_, inv in reports],
           "statuses": ["ok" if inv.supported else "unsupported" for *_, inv in reports],
           "os_ids": [inv.os_id for *_, inv in reports], "versions": [inv.os_version_id for *_, inv in reports],
           "ecosystems": [inv.ecosystem for *_, inv in reports], "collected": [at for _, _, at, _ in reports]})
    return StoredBatch(stored=len(reports), new_package_sets=created, timed_out=closed.rowcount)


async def _package_sets(session: AsyncSession, inventories: list[Inventory]) -> tuple[dict[str, uuid.UUID], int]:
    if not inventories:
        return {}, 0
    new_ids = [uuid.uuid4() for _ in inventories]
    inserted = (await session.execute(text("""
        INSERT INTO package_sets (id, digest, ecosystem, package_count)
        SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:digests AS text[]), CAST(:ecosystems AS text[]),
                             CAST(:counts AS int[]))
        ON CONFLICT (digest) DO NOTHING
        RETURNING id, digest
    """), {"ids": new_ids, "digests": [i.digest for i in inventories],
           "ecosystems": [i.ecosystem for i in inventories], "counts": [len(i.packages) for i in inventories]}
    )).all()
    by_digest = {i.digest: i for i in inventories}
    items = [(set_id, p) for set_id, digest in inserted for p in by_digest[digest].packages]
    if items:
        await session.execute(text("""
            INSERT INTO package_set_items (package_set_id, name, version, source_name, source_version, arch,
                                           match_name, match_version)
            SELECT * FROM unnest(CAST(:sets AS uuid[]), CAST(:names AS text[]), CAST(:versions AS text[]),
                                 CAST(:source_names AS text[]), CAST(:source_versions AS text[]),
                                 CAST(:archs AS text[]), CAST(:match_names AS text[]),
                                 CAST(:match_versions AS text[]))
        """), {"sets": [s for s, _ in items], "names": [p.name for _, p in items],
               "versions": [p.version for _, p in items], "source_names": [p.source_name for _, p in items],
               "source_versions": [p.source_version for _, p in items], "archs": [p.arch for _, p in items],
               "match_names": [p.match_name for _, p in items], "match_versions": [p.match_version for _, p in items]})
    ids = dict((await session.execute(text(
        "SELECT digest, id FROM package_sets WHERE digest = ANY(CAST(:digests AS text[]))"),
        {"digests": list(by_digest)})).all())
    return ids, len(inserted)


@dataclass
class OrgMatch:
    package_sets_matched: int
    opened: int
    open: int
    resolved: int
    alerts_raised: int = 0
    deployment_ids: list[uuid.UUID] = field(default_factory=list)  # automatic deployments still to start


async def match_org(session: AsyncSession, org_id: uuid.UUID, now: datetime) -> OrgMatch:
    """Bring the package sets of this organization's hosts up to date with the feeds (only what changed since
    each set was last matched), then open, refresh and resolve the organization's host vulnerabilities; alert
    what qualifies under the organization's policy, resolve the alerts of what is gone, and make the automatic
    patch deployment when auto-deploy is on."""
    await feeds.lock_feeds(session, exclusive=False)
    matched = await _match_package_sets(session, org_id)
    upserted = (await session.execute(text("""
        INSERT INTO host_vulnerabilities (id, org_id, host_id, cve_id, package, installed_version, fixed_version,
                                          patch_id, status, first_seen, last_seen, created_at, updated_at)
        SELECT gen_random_uuid(), i.org_id, i.host_id, v.cve_id, v.package, v.installed_version, v.fixed_version,
               p.id, 'open', :now, :now, :now, :now
        FROM host_inventories i
        JOIN package_sets s ON s.id = i.package_set_id
        JOIN package_set_vulnerabilities v ON v.package_set_id = i.package_set_id
        LEFT JOIN patches p ON p.ecosystem = s.ecosystem AND p.package = v.package
                           AND p.fixed_version = v.fixed_version
        WHERE i.org_id = :org
        ON CONFLICT (host_id, cve_id, package) DO UPDATE SET
            installed_version = excluded.installed_version, fixed_version = excluded.fixed_version,
            patch_id = excluded.patch_id, status = 'open', resolved_at = NULL, last_seen = excluded.last_seen,
            updated_at = excluded.updated_at
        RETURNING (xmax = 0) AS inserted
    """), {"org": org_id, "now": now})).scalars().all()
    resolved = await session.execute(text("""
        UPDATE host_vulnerabilities hv SET status = 'resolved', resolved_at = :now, updated_at = :now
        FROM host_inventories i
        WHERE hv.org_id = :org AND hv.status = 'open' AND i.host_id = hv.host_id
          AND NOT EXISTS (SELECT 1 FROM package_set_vulnerabilities v
                          WHERE v.package_set_id = i.package_set_id AND v.cve_id = hv.cve_id
                            AND v.package = hv.package)
    """), {"org": org_id, "now": now})
    alerts = await vuln_alerts.sync_org(session, org_id, now)
    deployments = await patch_deployments.create_automatic(session, org_id, now)
    return OrgMatch(package_sets_matched=matched, opened=sum(1 for new in upserted if new), open=len(upserted),
                    resolved=resolved.rowcount, alerts_raised=alerts.raised, deployment_ids=deployments)


CANDIDATES = """
    FROM package_sets s
    JOIN package_set_items i ON i.package_set_id = s.id
    JOIN affected_packages a ON a.ecosystem = s.ecosystem AND a.package = i.match_name
    WHERE s.id = ANY(CAST(:sets AS uuid[])) AND a.change_seq > coalesce(s.matched_seq, 0)
      AND a.change_seq <= :current
"""


async def _match_package_sets(session: AsyncSession, org_id: uuid.UUID) -> int:
    """Runs under the shared feed lock: every affected row up to the current sequence number is committed."""
    current = await session.scalar(text("SELECT coalesce(max(change_seq), 0) FROM affected_packages"))
    stale = list(await session.scalars(text("""
        SELECT s.id FROM package_sets s
        WHERE s.id IN (SELECT package_set_id FROM host_inventories WHERE org_id = :org)
          AND (s.matched_seq IS NULL OR s.matched_seq < :current)
        ORDER BY s.id FOR UPDATE OF s
    """), {"org": org_id, "current": current}))
    if not stale:
        return 0
    # Candidates: each stale set's packages against the affected rows of its ecosystem it has not seen yet. Python
    # judges each distinct (installed version, ranges) pair once, in the ecosystem's own version order; the
    # database joins the affected pairs back to every set, so no row per set and package crosses the wire.
    params = {"sets": stale, "current": current}
    pairs = (await session.execute(text(f"""
        SELECT DISTINCT s.ecosystem, i.match_version, CAST(a.ranges AS text) {CANDIDATES}
    """), params)).all()
    ranges_of = {text_: json.loads(text_) for text_ in {ranges for *_, ranges in pairs}}
    affected = [pair for pair in pairs if is_affected(pair[0], pair[1], ranges_of[pair[2]])]
    await session.execute(text("""
        DELETE FROM package_set_vulnerabilities v
        USING package_sets s, affected_packages a
        WHERE v.package_set_id = s.id AND s.id = ANY(CAST(:sets AS uuid[]))
          AND a.ecosystem = s.ecosystem AND a.package = v.package AND a.cve_id = v.cve_id
          AND a.change_seq > coalesce(s.matched_seq, 0)
    """), {"sets": stale})
    if affected:  # a source package with several binaries of one version is one finding
        await session.execute(text(f"""
            INSERT INTO package_set_vulnerabilities (package_set_id, cve_id, package, installed_version,
                                                     fixed_version)
            SELECT DISTINCT ON (s.id, a.cve_id, i.match_name) s.id, a.cve_id, i.match_name, i.match_version,
                   a.fixed_version
            {CANDIDATES}
              AND (s.ecosystem, i.match_version, CAST(a.ranges AS text)) IN (
                  SELECT * FROM unnest(CAST(:ecosystems AS text[]), CAST(:versions AS text[]),
                                       CAST(:ranges AS text[])))
            ORDER BY s.id, a.cve_id, i.match_name, i.match_version
        """), params | {"ecosystems": [e for e, _, _ in affected], "versions": [v for _, v, _ in affected],
                        "ranges": [r for _, _, r in affected]})
    await session.execute(text("UPDATE package_sets SET matched_seq = :current WHERE id = ANY(CAST(:sets AS uuid[]))"),
                          {"sets": stale, "current": current})
    return len(stale)
