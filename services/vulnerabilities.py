"""Vulnerability feeds in the database: idempotent, set-based upserts of NVD, KEV and OSV documents, the status
row of each source, and the advisory lock that keeps matching from reading a half-written feed."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import distinct, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import NotFound
from domain.search import escape_like
from domain.vuln_kev import KevEntry as KevRecord
from domain.vuln_nvd import NvdCve
from domain.vuln_osv import Affected
from models import (
    AffectedPackage,
    Cve,
    Host,
    HostInventory,
    HostVulnerability,
    KevEntry,
    PackageSetItem,
    Patch,
    PatchCve,
    VulnFeedStatus,
)

FEED_SOURCES = ("nvd", "kev", "osv")
# Imports hold it exclusively and matching shares it, so a package set's matched sequence number never skips a
# change that was still being written.
FEED_LOCK = 0x7665_6564  # "veed"
CHUNK = 5000


async def lock_feeds(session: AsyncSession, *, exclusive: bool) -> None:
    function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    await session.execute(text(f"SELECT {function}(:key)"), {"key": FEED_LOCK})


def _chunks(rows: Sequence, size: int = CHUNK) -> Iterable[Sequence]:
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


async def _stub_cves(session: AsyncSession, cve_ids: list[str], descriptions: list[str | None] | None = None) -> None:
    """A CVE row for every id a source names, so KEV and OSV rows can point at it before NVD has described it."""
    descriptions = descriptions or [None] * len(cve_ids)
    await session.execute(text("""
        INSERT INTO cves (cve_id, description)
        SELECT * FROM unnest(CAST(:ids AS text[]), CAST(:descriptions AS text[]))
        ON CONFLICT (cve_id) DO UPDATE SET description = excluded.description
        WHERE cves.description IS NULL AND excluded.description IS NOT NULL
    """), {"ids": cve_ids, "descriptions": descriptions})


async def import_nvd(session: AsyncSession, cves: list[NvdCve]) -> int:
    """Upsert CVE details; a row whose fields did not change is not written. Returns the CVEs written."""
    latest = {cve.cve_id: cve for cve in cves}
    written = 0
    for chunk in _chunks(list(latest.values())):
        result = await session.execute(text("""
            INSERT INTO cves (cve_id, published, last_modified, description, cvss_version, cvss_score, severity,
                              updated_at)
            SELECT *, now() FROM unnest(CAST(:ids AS text[]), CAST(:published AS timestamptz[]),
                                        CAST(:modified AS timestamptz[]), CAST(:descriptions AS text[]),
                                        CAST(:versions AS text[]), CAST(:scores AS float8[]),
                                        CAST(:severities AS text[]))
            ON CONFLICT (cve_id) DO UPDATE SET
                published = excluded.published, last_modified = excluded.last_modified,
                description = coalesce(excluded.description, cves.description),
                cvss_version = excluded.cvss_version, cvss_score = excluded.cvss_score,
                severity = excluded.severity, updated_at = now()
            WHERE (cves.published, cves.last_modified, cves.description, cves.cvss_version, cves.cvss_score,
                   cves.severity)
                  IS DISTINCT FROM (excluded.published, excluded.last_modified,
                                    coalesce(excluded.description, cves.description), excluded.cvss_version,
                                    excluded.cvss_score, excluded.severity)
        """), {"ids": [c.cve_id for c in chunk], "published": [c.published for c in chunk],
               "modified": [c.last_modified for c in chunk], "descriptions": [c.description for c in chunk],
               "versions": [c.cvss_version for c in chunk], "scores": [c.cvss_score for c in chunk],
               "severities": [c.severity for c in chunk]})
        written += result.rowcount
    return written


async def import_kev(session: AsyncSession, entries: list[KevRecord]) -> int:
    """The catalog is complete: its entries are upserted and entries it no longer lists are removed."""
    latest = {entry.cve_id: entry for entry in entries}
    rows = list(latest.values())
    written = 0
    for chunk in _chunks(rows):
        await _stub_cves(session, [e.cve_id for e in chunk])
        result = await session.execute(text("""
            INSERT INTO kev_entries (cve_id, vendor, product, name, date_added, due_date, known_ransomware,
                                     required_action)
            SELECT * FROM unnest(CAST(:ids AS text[]), CAST(:vendors AS text[]), CAST(:products AS text[]),
                                 CAST(:names AS text[]), CAST(:added AS date[]), CAST(:due AS date[]),
                                 CAST(:ransomware AS boolean[]), CAST(:actions AS text[]))
            ON CONFLICT (cve_id) DO UPDATE SET
                vendor = excluded.vendor, product = excluded.product, name = excluded.name,
                date_added = excluded.date_added, due_date = excluded.due_date,
                known_ransomware = excluded.known_ransomware, required_action = excluded.required_action
            WHERE (kev_entries.vendor, kev_entries.product, kev_entries.name, kev_entries.date_added,
                   kev_entries.due_date, kev_entries.known_ransomware, kev_entries.required_action)
                  IS DISTINCT FROM (excluded.vendor, excluded.product, excluded.name, excluded.date_added,
                                    excluded.due_date, excluded.known_ransomware, excluded.required_action)
        """), {"ids": [e.cve_id for e in chunk], "vendors": [e.vendor for e in chunk],
               "products": [e.product for e in chunk], "names": [e.name for e in chunk],
               "added": [e.date_added for e in chunk], "due": [e.due_date for e in chunk],
               "ransomware": [e.known_ransomware for e in chunk], "actions": [e.required_action for e in chunk]})
        written += result.rowcount
    if rows:
        removed = await session.execute(text("DELETE FROM kev_entries WHERE NOT (cve_id = ANY(CAST(:ids AS text[])))"),
                                        {"ids": list(latest)})
        written += removed.rowcount
    return written


async def import_osv(session: AsyncSession, affected: list[Affected]) -> int:
    """Upsert affected ranges keyed by (CVE, ecosystem, package); the newest record wins a key named twice. A
    changed row takes the next change sequence number, so matching re-examines only it. Patches
    (ecosystem, package, fixed version) and their CVE links follow the ranges."""
    latest: dict[tuple[str, str, str], Affected] = {}
    for item in affected:
        key = (item.cve_id, item.ecosystem, item.package)
        known = latest.get(key)
        if known is None or (item.modified and (known.modified is None or item.modified >= known.modified)):
            latest[key] = item
    rows = list(latest.values())
    written = 0
    for chunk in _chunks(rows):
        summaries = {a.cve_id: a.summary for a in chunk}
        await _stub_cves(session, list(summaries), list(summaries.values()))
        params = {"ids": [a.cve_id for a in chunk], "ecosystems": [a.ecosystem for a in chunk],
                  "packages": [a.package for a in chunk], "ranges": [json.dumps(a.ranges) for a in chunk],
                  "fixed": [a.fixed_version for a in chunk], "advisories": [a.advisory_id for a in chunk]}
        result = await session.execute(text("""
            INSERT INTO affected_packages (cve_id, ecosystem, package, ranges, fixed_version, advisory_id,
                                           change_seq, updated_at)
            SELECT i, e, p, r, f, a, nextval('vuln_change_seq'), now()
            FROM unnest(CAST(:ids AS text[]), CAST(:ecosystems AS text[]), CAST(:packages AS text[]),
                        CAST(:ranges AS jsonb[]), CAST(:fixed AS text[]), CAST(:advisories AS text[]))
                 AS n(i, e, p, r, f, a)
            ON CONFLICT (cve_id, ecosystem, package) DO UPDATE SET
                ranges = excluded.ranges, fixed_version = excluded.fixed_version,
                advisory_id = excluded.advisory_id, change_seq = nextval('vuln_change_seq'), updated_at = now()
            WHERE (affected_packages.ranges, affected_packages.fixed_version)
                  IS DISTINCT FROM (excluded.ranges, excluded.fixed_version)
        """), params)
        written += result.rowcount
        await session.execute(text("""
            INSERT INTO patches (id, ecosystem, package, fixed_version)
            SELECT gen_random_uuid(), e, p, f
            FROM (SELECT DISTINCT e, p, f FROM unnest(CAST(:ecosystems AS text[]), CAST(:packages AS text[]),
                                                      CAST(:fixed AS text[])) AS n(e, p, f)
                  WHERE f IS NOT NULL) AS fixes
            ON CONFLICT DO NOTHING
        """), params)
        await session.execute(text("""
            INSERT INTO patch_cves (patch_id, cve_id)
            SELECT DISTINCT pa.id, n.i
            FROM unnest(CAST(:ids AS text[]), CAST(:ecosystems AS text[]), CAST(:packages AS text[]),
                        CAST(:fixed AS text[])) AS n(i, e, p, f)
            JOIN patches pa ON pa.ecosystem = n.e AND pa.package = n.p AND pa.fixed_version = n.f
            ON CONFLICT DO NOTHING
        """), params)
    return written


# The status row of each source


@dataclass
class FeedState:
    source: str
    cursor: datetime | None
    validators: dict


async def feed_state(session: AsyncSession, source: str) -> FeedState:
    row = (await session.execute(text("SELECT cursor, validators FROM vuln_feed_status WHERE source = :s"),
                                 {"s": source})).first()
    if row is None:
        raise NotFound("feed source")
    return FeedState(source, row.cursor, dict(row.validators or {}))


async def record_feed_success(session: AsyncSession, source: str, records: int, now: datetime, *,
                              cursor: datetime | None = None, validators: dict | None = None,
                              status: str = "ok") -> None:
    await session.execute(text("""
        UPDATE vuln_feed_status SET status = :status, last_attempt_at = :now, last_success_at = :now,
            records = :records, cursor = coalesce(:cursor, cursor),
            validators = coalesce(CAST(:validators AS jsonb), validators)
        WHERE source = :source
    """), {"source": source, "status": status, "now": now, "records": records, "cursor": cursor,
           "validators": json.dumps(validators) if validators is not None else None})


async def record_feed_error(session: AsyncSession, source: str, error: str, now: datetime) -> None:
    await session.execute(text("""
        UPDATE vuln_feed_status SET status = 'error', last_attempt_at = :now, last_error_at = :now,
            last_error = :error
        WHERE source = :source
    """), {"source": source, "now": now, "error": error[:2000]})


# Reads (the API pages these statements)


def _host_counts(org_ids: list | None):
    """Per CVE: hosts with it open, and hosts where it was resolved, within the organizations (None: all)."""
    hv = HostVulnerability
    stmt = select(hv.cve_id,
                  func.count(distinct(hv.host_id)).filter(hv.status == "open").label("affected_hosts"),
                  func.count(distinct(hv.host_id)).filter(hv.status == "resolved").label("resolved_hosts"))
    if org_ids is not None:
        stmt = stmt.where(hv.org_id.in_(org_ids))
    return stmt.group_by(hv.cve_id).subquery()


def cve_list(org_ids: list | None, *, severity: str | None = None, kev: bool | None = None,
             status: str | None = None, search: str | None = None):
    """CVEs that concern the organizations' hosts, with KEV facts and host counts; `status` open keeps the CVEs
    still open somewhere, resolved the ones resolved everywhere."""
    counts = _host_counts(org_ids)
    stmt = (select(Cve, KevEntry, counts.c.affected_hosts, counts.c.resolved_hosts)
            .join(counts, counts.c.cve_id == Cve.cve_id)
            .outerjoin(KevEntry, KevEntry.cve_id == Cve.cve_id)
            .order_by(counts.c.affected_hosts.desc(), Cve.cvss_score.desc().nulls_last(), Cve.cve_id))
    if severity:
        stmt = stmt.where(Cve.severity == severity)
    if kev is not None:
        stmt = stmt.where(KevEntry.cve_id.is_not(None) if kev else KevEntry.cve_id.is_(None))
    if status == "open":
        stmt = stmt.where(counts.c.affected_hosts > 0)
    elif status == "resolved":
        stmt = stmt.where(counts.c.affected_hosts == 0)
    if search:
        pattern = f"%{escape_like(search.lower())}%"
        stmt = stmt.where(or_(func.lower(Cve.cve_id).like(pattern), func.lower(Cve.description).like(pattern)))
    return stmt


async def cve_detail(session: AsyncSession, cve_id: str):
    row = (await session.execute(select(Cve, KevEntry).outerjoin(KevEntry, KevEntry.cve_id == Cve.cve_id)
                                 .where(Cve.cve_id == cve_id))).first()
    if row is None:
        raise NotFound("CVE")
    return row


async def cve_patches(session: AsyncSession, cve_id: str) -> list[Patch]:
    return list(await session.scalars(select(Patch).join(PatchCve, PatchCve.patch_id == Patch.id)
                                      .where(PatchCve.cve_id == cve_id)
                                      .order_by(Patch.ecosystem, Patch.package, Patch.fixed_version)))


def host_vulnerability_list(*, org_ids: list | None = None, host_id=None, cve_id: str | None = None,
                            status: str | None = None):
    hv = HostVulnerability
    stmt = (select(hv, Host.hostname, Cve.severity, Cve.cvss_score, KevEntry.cve_id.is_not(None).label("kev"))
            .join(Host, Host.id == hv.host_id).join(Cve, Cve.cve_id == hv.cve_id)
            .outerjoin(KevEntry, KevEntry.cve_id == hv.cve_id)
            .order_by(Cve.cvss_score.desc().nulls_last(), hv.cve_id, Host.hostname, hv.package))
    if org_ids is not None:
        stmt = stmt.where(hv.org_id.in_(org_ids))
    for column, value in ((hv.host_id, host_id), (hv.cve_id, cve_id), (hv.status, status)):
        if value is not None:
            stmt = stmt.where(column == value)
    return stmt


def host_packages(host_id, search: str | None = None):
    item = PackageSetItem
    stmt = (select(item).join(HostInventory, HostInventory.package_set_id == item.package_set_id)
            .where(HostInventory.host_id == host_id).order_by(item.name, item.arch, item.version))
    if search:
        pattern = f"%{escape_like(search.lower())}%"
        stmt = stmt.where(or_(func.lower(item.name).like(pattern), func.lower(item.source_name).like(pattern)))
    return stmt


def patch_list(org_ids: list | None):
    """Patches that fix something open on the organizations' hosts, with how many hosts and CVEs they fix."""
    hv = HostVulnerability
    open_rows = select(hv).where(hv.status == "open", hv.patch_id.is_not(None))
    if org_ids is not None:
        open_rows = open_rows.where(hv.org_id.in_(org_ids))
    open_rows = open_rows.subquery()
    return (select(Patch, func.count(distinct(open_rows.c.host_id)).label("hosts"),
                   func.count(distinct(open_rows.c.cve_id)).label("cves"))
            .join(open_rows, open_rows.c.patch_id == Patch.id)
            .group_by(Patch.id).order_by(func.count(distinct(open_rows.c.host_id)).desc(), Patch.package,
                                         Patch.fixed_version))


async def feed_statuses(session: AsyncSession) -> list[tuple[VulnFeedStatus, int]]:
    """Each source's status row and how many records of it are stored."""
    totals = {
        "nvd": await session.scalar(select(func.count()).select_from(Cve).where(Cve.last_modified.is_not(None))),
        "kev": await session.scalar(select(func.count()).select_from(KevEntry)),
        "osv": await session.scalar(select(func.count()).select_from(AffectedPackage)),
    }
    rows = await session.scalars(select(VulnFeedStatus).order_by(VulnFeedStatus.source))
    return [(row, totals.get(row.source, 0)) for row in rows]
