"""Reporting over the latest-state tables: dashboard figures, daily trends, the host report, the CSV export.

Every function takes `orgs`, the organizations the caller may see (None: all of them); rows come back as
mappings named like the API's fields.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import Numeric, Select, String, case, cast, distinct, func, select, text, true
from sqlalchemy.ext.asyncio import AsyncSession

from domain.scoring import round_points
from domain.search import escape_like
from models import (
    CheckState,
    ComplianceCheck,
    CompliancePolicy,
    ComplianceScan,
    ComplianceTemplate,
    Host,
    HostPolicyStatus,
)

Orgs = list[uuid.UUID] | None
hps = HostPolicyStatus


def points(value: Decimal | float | None) -> float | None:
    return None if value is None else round_points(value)


def within(column, orgs: Orgs):
    return true() if orgs is None else column.in_(orgs)


@dataclass
class DashboardTotals:
    total_policies: int
    total_scans: int
    average_score: float | None
    hosts_scanned: int
    incomplete_hosts: int


# An incomplete scan's score is shown beside its coverage but never counted as a host's health.
complete_score = case((hps.incomplete.is_(False), hps.score))


async def dashboard_totals(session: AsyncSession, orgs: Orgs) -> DashboardTotals:
    """Averages are over each host's latest scan per policy."""
    total_policies = select(func.count()).select_from(CompliancePolicy).where(
        within(CompliancePolicy.org_id, orgs)).scalar_subquery()
    total_scans = select(func.count()).select_from(ComplianceScan).where(
        within(ComplianceScan.org_id, orgs), ComplianceScan.status == "completed").scalar_subquery()
    policies, scans, average, hosts, incomplete = (await session.execute(
        select(total_policies, total_scans, func.avg(complete_score), func.count(distinct(hps.host_id)),
               func.count(distinct(hps.host_id)).filter(hps.incomplete))
        .select_from(hps).where(within(hps.org_id, orgs))
    )).one()
    return DashboardTotals(policies, scans, points(average), hosts, incomplete)


async def worst_hosts(session: AsyncSession, orgs: Orgs, limit: int) -> list[dict]:
    rows = await session.execute(
        select(hps.host_id, Host.hostname, hps.policy_id, hps.score, hps.incomplete,
               hps.last_completed_at.label("last_scan_at"))
        .join(Host, Host.id == hps.host_id).where(within(hps.org_id, orgs), hps.score.is_not(None))
        .order_by(hps.score, Host.hostname, hps.policy_id).limit(limit)
    )
    return [dict(row._mapping) for row in rows]


async def framework_scores(session: AsyncSession, orgs: Orgs) -> list[dict]:
    """The framework of a host's score is its latest scan's template's."""
    rows = await session.execute(
        select(ComplianceTemplate.framework, func.avg(complete_score), func.count(distinct(hps.host_id)))
        .join(ComplianceTemplate, ComplianceTemplate.id == hps.template_id)
        .where(within(hps.org_id, orgs)).group_by(ComplianceTemplate.framework).order_by(ComplianceTemplate.framework)
    )
    return [{"framework": f, "average_score": points(avg), "hosts": n} for f, avg, n in rows]


async def failing_checks(session: AsyncSession, orgs: Orgs, limit: int) -> list[dict]:
    # Count first, then look up titles: the count reads only the index of failing states, and a check's title
    # and severity follow from its id, so grouping by them as well would only make every group wider. Rows are
    # hosts: a host is under exactly one policy (one per organization and OS type; a host has one of each), so
    # (host, check) is unique among states and count(*) equals the distinct count, without a sort per check.
    failing = (
        select(CheckState.check_id, CheckState.rule_id, func.count().label("hosts"))
        .where(within(CheckState.org_id, orgs), CheckState.status == "fail")
        .group_by(CheckState.check_id, CheckState.rule_id)
        .subquery("failing")
    )
    rows = await session.execute(
        select(failing.c.check_id, failing.c.rule_id, ComplianceCheck.title, ComplianceCheck.severity,
               failing.c.hosts.label("failing_hosts"))
        .join(ComplianceCheck, ComplianceCheck.id == failing.c.check_id)
        .order_by(failing.c.hosts.desc(), failing.c.rule_id, failing.c.check_id).limit(limit)
    )
    return [dict(row._mapping) for row in rows]


@dataclass
class DailyScores:
    points: list[dict]
    average_score: float | None
    min_score: float | None
    max_score: float | None
    scans: int


async def daily_scores(session: AsyncSession, orgs: Orgs, start: date, end: date) -> DailyScores:
    """Daily average/min/max of completed scans' scores over [start, end] (UTC days), empty days included."""
    params: dict = {"start": start, "end": end}
    scope = ""
    if orgs is not None:
        scope, params["orgs"] = "AND s.org_id = ANY(:orgs)", orgs
    # One range scan over the whole period, grouped by UTC day, then the empty days filled in: the index on
    # (org_id, completed_at) carries the score, so the scan never visits the table.
    rows = (await session.execute(text(f"""
        SELECT d.day, daily.average, daily.low, daily.high, coalesce(daily.scans, 0), daily.total
        FROM (SELECT CAST(g AS date) AS day
              FROM generate_series(CAST(:start AS date), CAST(:end AS date), interval '1 day') AS g) AS d
        LEFT JOIN (
            SELECT CAST(s.completed_at AT TIME ZONE 'UTC' AS date) AS day, avg(s.score) AS average,
                   min(s.score) AS low, max(s.score) AS high, count(*) AS scans, sum(s.score) AS total
            FROM compliance_scans s
            WHERE s.status = 'completed' AND s.score IS NOT NULL {scope}
              AND s.completed_at >= CAST(CAST(:start AS date) AS timestamp) AT TIME ZONE 'UTC'
              AND s.completed_at < CAST(CAST(:end AS date) + 1 AS timestamp) AT TIME ZONE 'UTC'
            GROUP BY 1
        ) AS daily ON daily.day = d.day
        ORDER BY d.day
    """), params)).all()
    scans = sum(r[4] for r in rows)
    total = sum((r[5] for r in rows if r[5] is not None), Decimal(0))
    scored = [r for r in rows if r[4]]
    return DailyScores(
        points=[{"date": day, "average_score": points(avg), "min_score": points(low), "max_score": points(high),
                 "scans": n} for day, avg, low, high, n, _ in rows],
        average_score=points(total / scans) if scans else None,
        min_score=points(min(r[2] for r in scored)) if scored else None,
        max_score=points(max(r[3] for r in scored)) if scored else None,
        scans=scans,
    )


async def report_summary(session: AsyncSession, orgs: Orgs) -> dict:
    above = func.count(distinct(hps.host_id)).filter(complete_score >= 80)
    below = func.count(distinct(hps.host_id)).filter(hps.score < 50)
    incomplete = func.count(distinct(hps.host_id)).filter(hps.incomplete)
    hosts, average, above_80, below_50, incomplete_hosts = (await session.execute(
        select(func.count(distinct(hps.host_id)), func.avg(complete_score), above, below, incomplete)
        .where(within(hps.org_id, orgs))
    )).one()
    return {"total_hosts": hosts, "avg_score": points(average), "hosts_above_80": above_80,
            "hosts_below_50": below_50, "incomplete_hosts": incomplete_hosts}


def report_hosts(orgs: Orgs, search: str | None) -> Select:
    """Each host's latest scan per policy, in hostname order; `search` narrows by hostname."""
    stmt = (
        select(hps.host_id, Host.hostname, Host.ip_address, hps.policy_id, CompliancePolicy.name.label("policy_name"),
               ComplianceTemplate.framework, ComplianceTemplate.name.label("template_name"),
               ComplianceTemplate.version.label("template_version"), hps.scan_id, hps.score, hps.total, hps.passed,
               hps.failed, hps.errors, hps.skipped, hps.waived, hps.incomplete,
               case((hps.total > 0, func.round(cast((hps.total - hps.errors) * 100, Numeric) / hps.total, 2)))
               .label("coverage"),
               hps.last_completed_at.label("last_scan_at"))
        .join(Host, Host.id == hps.host_id)
        .join(CompliancePolicy, CompliancePolicy.id == hps.policy_id)
        .join(ComplianceTemplate, ComplianceTemplate.id == hps.template_id)
        .where(within(hps.org_id, orgs)).order_by(Host.hostname, hps.policy_id)
    )
    if search:
        stmt = stmt.where(func.lower(Host.hostname).like(f"%{escape_like(search.lower())}%"))
    return stmt


EXPORT_COLUMNS = ["hostname", "ip_address", "policy_id", "policy_name", "template_name", "template_version",
                  "rule_id", "title", "severity", "status", "actual", "scanned_at"]


def export_rows(orgs: Orgs) -> Select:
    """Every check of every host's latest scan per policy, in EXPORT_COLUMNS order, for a server-side cursor."""
    # Host by host in hostname order, each host's states sorted on their own, so the first rows leave at once:
    # one sort over every state made the client wait for all of them. The sort inside the per-host subquery also
    # keeps PostgreSQL from flattening it back into that one big join. A state's organization is always its
    # host's, so scoping the hosts as well leaves out no row.
    hosts = (
        select(Host.id, Host.hostname, Host.ip_address)
        .where(within(Host.org_id, orgs)).order_by(Host.hostname).subquery("h")
    )
    # policy_id is written as PostgreSQL's text of the uuid (the same characters str() gives), not rebuilt per row.
    states = (
        select(CheckState.policy_id.label("policy_key"), cast(CheckState.policy_id, String).label("policy_id"),
               CompliancePolicy.name.label("policy_name"), ComplianceTemplate.name.label("template_name"),
               ComplianceTemplate.version, CheckState.rule_id, ComplianceCheck.title, ComplianceCheck.severity,
               CheckState.status, CheckState.actual, hps.last_completed_at.label("scanned_at"),
               ComplianceCheck.position)
        .join(CompliancePolicy, CompliancePolicy.id == CheckState.policy_id)
        # A state row is rewritten only when its outcome changes: the latest scan (its template, its time) is
        # the host's and policy's status row.
        .join(hps, (hps.host_id == CheckState.host_id) & (hps.policy_id == CheckState.policy_id))
        .join(ComplianceTemplate, ComplianceTemplate.id == hps.template_id)
        .join(ComplianceCheck, ComplianceCheck.id == CheckState.check_id)
        .where(CheckState.host_id == hosts.c.id, within(CheckState.org_id, orgs))
        .order_by(CheckState.policy_id, ComplianceCheck.position, CheckState.rule_id)
        .lateral("s")
    )
    return (
        select(hosts.c.hostname, hosts.c.ip_address, states.c.policy_id, states.c.policy_name, states.c.template_name,
               states.c.version, states.c.rule_id, states.c.title, states.c.severity, states.c.status,
               states.c.actual, states.c.scanned_at)
        .select_from(hosts).join(states, true())
        .order_by(hosts.c.hostname, states.c.policy_key, states.c.position, states.c.rule_id)
    )
