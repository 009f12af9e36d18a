"""Compliance reporting: dashboard, daily trends, the host report and the CSV export."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from api.deps import CurrentUser, Page, SessionDep, paginate, short_transaction, tenant_orgs
from api.errors import Unprocessable
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
from services import reports

router = APIRouter(prefix="/compliance", tags=["reports"])

TREND_DAYS = (7, 14, 30, 90)
WORST_HOSTS = 10
TOP_FAILING_CHECKS = 10
REPORT_FAILING_CHECKS = 100
EXPORT_BATCH = 1000


@router.get("/dashboard", response_model=DashboardOut)
async def dashboard(principal: CurrentUser, session: SessionDep, org_id: uuid.UUID | None = None):
    """Averages are over each host's latest scan per policy; framework is that scan's template's."""
    orgs = tenant_orgs(principal, org_id, strict=True)
    totals = await reports.dashboard_totals(session, orgs)
    return DashboardOut(
        total_policies=totals.total_policies, total_scans=totals.total_scans, average_score=totals.average_score,
        hosts_scanned=totals.hosts_scanned, incomplete_hosts=totals.incomplete_hosts,
        frameworks=[FrameworkScore(**row) for row in await reports.framework_scores(session, orgs)],
        worst_hosts=[HostScore(**row) for row in await reports.worst_hosts(session, orgs, WORST_HOSTS)],
        top_failing_checks=[FailingCheck(**row) for row in
                            await reports.failing_checks(session, orgs, TOP_FAILING_CHECKS)],
    )


@router.get("/trends", response_model=TrendsOut)
async def trends(principal: CurrentUser, session: SessionDep, days: int = 30, org_id: uuid.UUID | None = None):
    """Daily average/min/max of completed scans' scores over the last `days` UTC days (today included)."""
    if days not in TREND_DAYS:
        raise Unprocessable([{"loc": ["query", "days"], "msg": f"days must be one of {TREND_DAYS}",
                              "type": "literal_error"}])
    orgs = tenant_orgs(principal, org_id, strict=True)
    end = datetime.now(UTC).date()
    start = end - timedelta(days=days - 1)
    daily = await reports.daily_scores(session, orgs, start, end)
    summary = TrendSummary(average_score=daily.average_score, min_score=daily.min_score,
                           max_score=daily.max_score, scans=daily.scans)
    return TrendsOut(days=days, start=start, end=end, summary=summary,
                     points=[TrendPoint(**point) for point in daily.points])


@router.get("/report", response_model=ReportOut)
async def report(
    principal: CurrentUser, session: SessionDep, page: Page, response: Response,
    include_details: bool = False, search: Annotated[str | None, Query(max_length=255)] = None,
    org_id: uuid.UUID | None = None,
):
    """Summary and frameworks cover the whole scope; `search` narrows the paged host rows (X-Total-Count)."""
    orgs = tenant_orgs(principal, org_id, strict=True)
    hosts = await paginate(session, reports.report_hosts(orgs, search), page, response, rows=True)
    details = None
    if include_details:
        details = [FailingCheck(**row) for row in
                   await reports.failing_checks(session, orgs, REPORT_FAILING_CHECKS)]
    return ReportOut(
        summary=ReportSummary(**await reports.report_summary(session, orgs)),
        by_framework=[FrameworkScore(**row) for row in await reports.framework_scores(session, orgs)],
        hosts=[ReportHost.model_validate(row._mapping) for row in hosts],
        failing_checks=details,
    )


@router.get("/export.csv", response_class=StreamingResponse)
async def export_csv(request: Request, principal: CurrentUser, org_id: uuid.UUID | None = None):
    """Every check of every host's latest scan per policy, streamed from a server-side cursor."""
    stmt = reports.export_rows(tenant_orgs(principal, org_id, strict=True)).execution_options(yield_per=EXPORT_BATCH)

    async def lines() -> AsyncIterator[str]:
        # Its own transaction: the request's session closes when the handler returns, before the body streams.
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(reports.EXPORT_COLUMNS)
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
