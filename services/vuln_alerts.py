"""Vulnerability alerts and incidents: after matching, one `vulnerability_detected` alert per host+CVE that
qualifies under the organization's policy, correlated into the host's one open vulnerability incident; the
lifecycle sync resolves alerts whose vulnerability is gone and then incidents with nothing open left.

Set-based over an organization, like the compliance incidents of services.incidents: every statement is
guarded by a partial unique index or a NOT EXISTS, so running it twice changes nothing the second time."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from domain.patching import CRITICAL_CVSS, DEFAULT_POLICY, SEVERITIES

SOURCE = "vulnerabilities"
ALERT_TYPE = "vulnerability_detected"

# The policy of each organization, its defaults where it saved none (domain.patching.DEFAULT_POLICY).
POLICY = """
    SELECT o.id AS org_id,
           array_position(CAST(:severities AS text[]), coalesce(p.min_severity, :default_min)) AS min_rank,
           coalesce(p.kev_always, :default_kev) AS kev_always
    FROM organizations o LEFT JOIN vulnerability_policies p ON p.org_id = o.id
    WHERE o.id = :org
"""

# Open host vulnerabilities that qualify, one row per host+CVE.
QUALIFYING = """
    SELECT DISTINCT ON (hv.host_id, hv.cve_id) hv.org_id, hv.host_id, hv.cve_id, hv.package, hv.installed_version,
           hv.fixed_version, c.severity, c.cvss_score, (k.cve_id IS NOT NULL) AS kev
    FROM host_vulnerabilities hv
    JOIN policy pol ON pol.org_id = hv.org_id
    JOIN cves c ON c.cve_id = hv.cve_id
    LEFT JOIN kev_entries k ON k.cve_id = hv.cve_id
    WHERE hv.org_id = :org AND hv.status = 'open'
      AND (coalesce(array_position(CAST(:severities AS text[]), c.severity), 0) >= pol.min_rank
           OR (k.cve_id IS NOT NULL AND pol.kev_always))
    ORDER BY hv.host_id, hv.cve_id, hv.package
"""


@dataclass
class AlertSync:
    raised: int = 0
    alerts_resolved: int = 0
    incidents_opened: int = 0
    incidents_resolved: int = 0


def _params(org_id: uuid.UUID, now: datetime) -> dict:
    return {"org": org_id, "now": now, "severities": list(SEVERITIES), "default_min": DEFAULT_POLICY.min_severity,
            "default_kev": DEFAULT_POLICY.kev_always, "critical_cvss": CRITICAL_CVSS}


async def raise_alerts(session: AsyncSession, org_id: uuid.UUID, now: datetime) -> AlertSync:
    """Alert each qualifying open host vulnerability not alerted yet, and correlate the new alerts into each
    host's open vulnerability incident (opened here when the host has none)."""
    params = _params(org_id, now)
    raised = (await session.execute(text(f"""
        WITH policy AS ({POLICY}), qualifying AS ({QUALIFYING})
        INSERT INTO alerts (id, org_id, host_id, source, cve_id, alert_type, severity, message, metadata,
                            created_at, updated_at)
        SELECT gen_random_uuid(), q.org_id, q.host_id, '{SOURCE}', q.cve_id, '{ALERT_TYPE}',
               CASE WHEN q.kev OR q.cvss_score >= :critical_cvss THEN 'critical' ELSE 'warning' END,
               left(q.cve_id || ' in ' || q.package || ' ' || q.installed_version
                    || coalesce(' (fixed in ' || q.fixed_version || ')', '')
                    || CASE WHEN q.kev THEN ', known exploited' ELSE '' END, 2000),
               jsonb_build_object('cve_id', q.cve_id, 'package', q.package,
                                  'installed_version', q.installed_version, 'fixed_version', q.fixed_version,
                                  'cvss_score', q.cvss_score, 'cvss_severity', q.severity, 'kev', q.kev),
               :now, :now
        FROM qualifying q
        ON CONFLICT (host_id, cve_id) WHERE alert_type = '{ALERT_TYPE}' AND resolved_at IS NULL DO NOTHING
        RETURNING id
    """), params)).scalars().all()
    if not raised:
        return AlertSync()
    ids = list(raised)
    opened = await session.execute(text(f"""
        INSERT INTO incidents (id, org_id, host_id, source, status, severity, title, timeline, created_at,
                               updated_at)
        SELECT gen_random_uuid(), a.org_id, a.host_id, '{SOURCE}', 'open',
               CASE WHEN bool_or(a.severity = 'critical') THEN 'critical' ELSE 'warning' END,
               left(h.hostname || ': vulnerable packages', 500), '[]'::jsonb, :now, :now
        FROM alerts a JOIN hosts h ON h.id = a.host_id
        WHERE a.id = ANY(CAST(:ids AS uuid[]))
        GROUP BY a.org_id, a.host_id, h.hostname
        ON CONFLICT (host_id) WHERE status = 'open' AND source = '{SOURCE}' DO NOTHING
    """), params | {"ids": ids})
    # A new statement sees an incident that a concurrent run committed while our insert waited.
    await session.execute(text(f"""
        WITH linked AS (
            UPDATE alerts a SET incident_id = i.id, updated_at = :now
            FROM incidents i
            WHERE a.id = ANY(CAST(:ids AS uuid[])) AND i.host_id = a.host_id AND i.source = '{SOURCE}'
              AND i.status = 'open'
            RETURNING i.id AS incident_id, a.id, a.cve_id, a.severity
        ), entries AS (
            SELECT incident_id, bool_or(severity = 'critical') AS critical,
                   jsonb_agg(jsonb_build_object('at', :now, 'event', 'vulnerability_detected', 'alert_id', id,
                                                'cve_id', cve_id, 'severity', severity) ORDER BY cve_id) AS added
            FROM linked GROUP BY incident_id
        )
        UPDATE incidents i SET timeline = i.timeline || e.added, updated_at = :now,
               severity = CASE WHEN e.critical THEN 'critical' ELSE i.severity END
        FROM entries e WHERE i.id = e.incident_id
    """), params | {"ids": ids})
    return AlertSync(raised=len(ids), incidents_opened=opened.rowcount)


async def resolve_fixed(session: AsyncSession, org_id: uuid.UUID, now: datetime,
                        host_ids: list[uuid.UUID] | None = None) -> AlertSync:
    """Resolve the alerts whose host no longer has the CVE open, then the vulnerability incidents left with
    no unresolved alert (limited to `host_ids` when given)."""
    params = _params(org_id, now) | {"hosts": host_ids, "all_hosts": host_ids is None}
    resolved = (await session.execute(text(f"""
        UPDATE alerts a SET resolved_at = :now, updated_at = :now
        WHERE a.org_id = :org AND a.alert_type = '{ALERT_TYPE}' AND a.resolved_at IS NULL
          AND (:all_hosts OR a.host_id = ANY(CAST(:hosts AS uuid[])))
          AND NOT EXISTS (SELECT 1 FROM host_vulnerabilities hv
                          WHERE hv.host_id = a.host_id AND hv.cve_id = a.cve_id AND hv.status = 'open')
        RETURNING a.id
    """), params)).scalars().all()
    closed = await session.execute(text(f"""
        UPDATE incidents i SET status = 'resolved', resolved_at = :now, updated_at = :now,
               timeline = i.timeline || jsonb_build_array(jsonb_build_object(
                   'at', :now, 'event', 'resolved', 'reason', 'every vulnerability of the host is fixed'))
        WHERE i.org_id = :org AND i.source = '{SOURCE}' AND i.status = 'open'
          AND (:all_hosts OR i.host_id = ANY(CAST(:hosts AS uuid[])))
          AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.host_id = i.host_id AND a.source = '{SOURCE}'
                          AND a.resolved_at IS NULL)
    """), params)
    return AlertSync(alerts_resolved=len(resolved), incidents_resolved=closed.rowcount)


async def sync_org(session: AsyncSession, org_id: uuid.UUID, now: datetime) -> AlertSync:
    """After matching: resolve what is gone, then raise what is new."""
    gone = await resolve_fixed(session, org_id, now)
    new = await raise_alerts(session, org_id, now)
    return AlertSync(raised=new.raised, alerts_resolved=gone.alerts_resolved, incidents_opened=new.incidents_opened,
                     incidents_resolved=gone.incidents_resolved)
