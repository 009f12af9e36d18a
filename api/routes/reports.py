"""Compliance reporting: dashboard, daily trends, the host report and the CSV export — all over latest-state tables."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy import String, cast, distinct, func, select, text, true

from api.deps import (
    VIEW,
    CurrentUser,
    Page,
    SessionDep,
    paginate,
    short_transaction,
    tenant_scope,
)
from api.errors import Unprocessable
from api.routes.hosts import escape_like
from api.schemas.monitoring import (
    DashboardOut,
    FailingCheck,
    FrameworkScore,
    HostScore,
    ReportHost,
    ReportOut,
    ReportSummary,
    TrendPoint,
    TrendsOut,
    TrendSummary,
)
from domain.csv_safety import escape_row
from domain.scoring import round_points
from models import (
    CheckState,
    ComplianceCheck,
    CompliancePolicy,
    ComplianceScan,
    ComplianceTemplate,
    Host,
    HostPolicyStatus,
)

router = APIRouter(prefix="/compliance", tags=["reports"])

TREND_DAYS = (7, 14, 30, 90)
WORST_HOSTS = 10
TOP_FAILING_CHECKS = 10
REPORT_FAILING_CHECKS = 100
EXPORT_BATCH = 1000
EXPORT_COLUMNS = ["hostname", "ip_address", "policy_id", "policy_name", "template_name", "template_version",
                  "rule_id", "title", "severity", "status", "actual", "scanned_at"]
hps = HostPolicyStatus


def points(value: Decimal | float | None) -> float | None:
    return None if value is None else round_points(value)


async def framework_scores(session, scope) -> list[FrameworkScore]:
    rows = await session.execute(
        select(ComplianceTemplate.framework, func.avg(hps.score), func.count(distinct(hps.host_id)))
        .join(ComplianceTemplate, ComplianceTemplate.id == hps.template_id)
        .where(scope).group_by(ComplianceTemplate.framework).order_by(ComplianceTemplate.framework)
    )
    return [FrameworkScore(framework=f, average_score=points(avg), hosts=n) for f, avg, n in rows]


async def failing_checks(session, scope, limit: int) -> list[FailingCheck]:
    # Count first, then look up titles: the count reads only the index of failing states, and a check's title
    # and severity follow from its id, so grouping by them as well would only make every group wider. Rows are
    # hosts: a host is under exactly one policy (one per organization and OS type; a host has one of each), so
    # (host, check) is unique among states and count(*) equals the distinct count, without a sort per check.
    failing = (
        select(CheckState.check_id, CheckState.rule_id, func.count().label("hosts"))
        .where(scope, CheckState.status == "fail")
        .group_by(CheckState.check_id, CheckState.rule_id)
        .subquery("failing")
    )
    rows = await session.execute(
        select(failing.c.check_id, failing.c.rule_id, ComplianceCheck.title, ComplianceCheck.severity,
               failing.c.hosts)
        .join(ComplianceCheck, ComplianceCheck.id == failing.c.check_id)
        .order_by(failing.c.hosts.desc(), failing.c.rule_id, failing.c.check_id).limit(limit)
    )
    return [FailingCheck(check_id=c, rule_id=r, title=t, severity=s, failing_hosts=n) for c, r, t, s, n in rows]


@router.get("/dashboard", response_model=DashboardOut)
async def dashboard(principal: CurrentUser, session: SessionDep, org_id: uuid.UUID | None = None):
    """Averages are over each host's latest scan per policy; framework is that scan's template's."""
    status_scope = tenant_scope(principal, hps.org_id, org_id, strict=True)
    total_policies = select(func.count()).select_from(CompliancePolicy).where(
        tenant_scope(principal, CompliancePolicy.org_id, org_id, strict=True)).scalar_subquery()
    total_scans = select(func.count()).select_from(ComplianceScan).where(
        tenant_scope(principal, ComplianceScan.org_id, org_id, strict=True), ComplianceScan.status == "completed"
    ).scalar_subquery()
    totals = (await session.execute(
        select(total_policies, total_scans, func.avg(hps.score), func.count(distinct(hps.host_id)))
        .select_from(hps).where(status_scope)
    )).one()
    worst = await session.execute(
        select(hps.host_id, Host.hostname, hps.policy_id, hps.score, hps.last_completed_at)
        .join(Host, Host.id == hps.host_id).where(status_scope, hps.score.is_not(None))
        .order_by(hps.score, Host.hostname, hps.policy_id).limit(WORST_HOSTS)
    )
    return DashboardOut(
        total_policies=totals[0], total_scans=totals[1], average_score=points(totals[2]), hosts_scanned=totals[3],
        frameworks=await framework_scores(session, status_scope),
        worst_hosts=[HostScore(host_id=h, hostname=n, policy_id=p, score=s, last_scan_at=at)
                     for h, n, p, s, at in worst],
        top_failing_checks=await failing_checks(
            session, tenant_scope(principal, CheckState.org_id, org_id, strict=True), TOP_FAILING_CHECKS),
    )


@router.get("/trends", response_model=TrendsOut)
async def trends(principal: CurrentUser, session: SessionDep, days: int = 30, org_id: uuid.UUID | None = None):
    """Daily average/min/max of completed scans' scores over the last `days` UTC days (today included)."""
    if days not in TREND_DAYS:
        raise Unprocessable([{"loc": ["query", "days"], "msg": f"days must be one of {TREND_DAYS}",
                              "type": "literal_error"}])
    end = datetime.now(UTC).date()
    start = end - timedelta(days=days - 1)
    params: dict = {"start": start, "end": end}
    scope = ""
    if org_id is not None:
        principal.require(org_id, VIEW, "organization")
        scope, params["orgs"] = "AND s.org_id = ANY(:orgs)", [org_id]
    elif (visible := principal.visible_org_ids()) is not None:
        scope, params["orgs"] = "AND s.org_id = ANY(:orgs)", visible
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
    summary = TrendSummary(
        average_score=points(total / scans) if scans else None,
        min_score=points(min(r[2] for r in scored)) if scored else None,
        max_score=points(max(r[3] for r in scored)) if scored else None,
        scans=scans,
    )
    return TrendsOut(days=days, start=start, end=end, summary=summary, points=[
        TrendPoint(date=day, average_score=points(avg), min_score=points(low), max_score=points(high), scans=n)
        for day, avg, low, high, n, _ in rows
    ])


@router.get("/report", response_model=ReportOut)
async def report(
    principal: CurrentUser, session: SessionDep, page: Page, response: Response,
    include_details: bool = False, search: Annotated[str | None, Query(max_length=255)] = None,
    org_id: uuid.UUID | None = None,
):
    """Summary and frameworks cover the whole scope; `search` narrows the paged host rows (X-Total-Count)."""
    scope = tenant_scope(principal, hps.org_id, org_id, strict=True)
    above = func.count(distinct(hps.host_id)).filter(hps.score >= 80)
    below = func.count(distinct(hps.host_id)).filter(hps.score < 50)
    totals = (await session.execute(
        select(func.count(distinct(hps.host_id)), func.avg(hps.score), above, below).where(scope)
    )).one()
    stmt = (
        select(hps.host_id, Host.hostname, Host.ip_address, hps.policy_id, CompliancePolicy.name.label("policy_name"),
               ComplianceTemplate.framework, ComplianceTemplate.name.label("template_name"),
               ComplianceTemplate.version.label("template_version"), hps.scan_id, hps.score, hps.total, hps.passed,
               hps.failed, hps.errors, hps.skipped, hps.waived, hps.last_completed_at.label("last_scan_at"))
        .join(Host, Host.id == hps.host_id)
        .join(CompliancePolicy, CompliancePolicy.id == hps.policy_id)
        .join(ComplianceTemplate, ComplianceTemplate.id == hps.template_id)
        .where(scope).order_by(Host.hostname, hps.policy_id)
    )
    if search:
        stmt = stmt.where(func.lower(Host.hostname).like(f"%{escape_like(search.lower())}%"))
    hosts = await paginate(session, stmt, page, response, rows=True)
    details = None
    if include_details:
        details = await failing_checks(session, tenant_scope(principal, CheckState.org_id, org_id, strict=True),
                                       REPORT_FAILING_CHECKS)
    return ReportOut(
        summary=ReportSummary(total_hosts=totals[0], avg_score=points(totals[1]), hosts_above_80=totals[2],
                              hosts_below_50=totals[3]),
        by_framework=await framework_scores(session, scope),
        hosts=[ReportHost.model_validate(row._mapping) for row in hosts],
        failing_checks=details,
    )


@router.get("/export.csv", response_class=StreamingResponse)
async def export_csv(request: Request, principal: CurrentUser, org_id: uuid.UUID | None = None):
    """Every check of every host's latest scan per policy, streamed from a server-side cursor."""
    # Host by host in hostname order, each host's states sorted on their own, so the first rows leave at once:
    # one sort over every state made the client wait for all of them. The sort inside the per-host subquery also
    # keeps PostgreSQL from flattening it back into that one big join. A state's organization is always its
    # host's, so scoping the hosts as well leaves out no row.
    hosts = (
        select(Host.id, Host.hostname, Host.ip_address)
        .where(tenant_scope(principal, Host.org_id, org_id, strict=True)).order_by(Host.hostname).subquery("h")
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
        .where(CheckState.host_id == hosts.c.id, tenant_scope(principal, CheckState.org_id, org_id, strict=True))
        .order_by(CheckState.policy_id, ComplianceCheck.position, CheckState.rule_id)
        .lateral("s")
    )
    stmt = (
        select(hosts.c.hostname, hosts.c.ip_address, states.c.policy_id, states.c.policy_name, states.c.template_name,
               states.c.version, states.c.rule_id, states.c.title, states.c.severity, states.c.status,
               states.c.actual, states.c.scanned_at)
        .select_from(hosts).join(states, true())
        .order_by(hosts.c.hostname, states.c.policy_key, states.c.position, states.c.rule_id)
        .execution_options(yield_per=EXPORT_BATCH)
    )

    async def lines() -> AsyncIterator[str]:
        # Its own session: the request's session closes when the handler returns, before the body streams.
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(EXPORT_COLUMNS)
        async with short_transaction(request) as session:
            # Core rows through the session's connection: the ORM's per-row bookkeeping buys nothing here.
            connection = await session.connection()
            result = await connection.stream(stmt)
            async for batch in result.partitions():
                writer.writerows(escape_row((*row[:11], row[11].isoformat())) for row in batch)
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return StreamingResponse(lines(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="compliance-{stamp}.csv"'})
