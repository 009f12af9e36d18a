"""Set-based recording of finished scans: waivers, counts, scores, history, latest state — one transaction."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from domain.scoring import compute_score, count_statuses
from domain.waivers import CheckOutcome, ExceptionScope, apply_waivers

NO_RESULT = "no result returned by the agent"


@dataclass
class CheckInfo:
    id: uuid.UUID
    rule_id: str
    title: str
    severity: str
    remediation_type: str
    requires_change: bool


@dataclass
class ScoredScan:
    scan_id: uuid.UUID
    org_id: uuid.UUID
    host_id: uuid.UUID
    policy_id: uuid.UUID
    template_id: uuid.UUID
    scan_type: str
    remediation_id: uuid.UUID | None
    completed_at: datetime
    score: float | None
    score_reason: str | None
    counts: dict[str, int]
    outcomes: list[CheckOutcome] = field(repr=False, default_factory=list)


async def _running_scans(session: AsyncSession, scan_ids: list[uuid.UUID]) -> list:
    return (await session.execute(text("""
        SELECT s.id, s.org_id, s.host_id, s.policy_id, s.template_id, s.scan_type, s.remediation_id,
               j.result, coalesce(j.completed_at, now()) AS completed_at
        FROM compliance_scans s
        JOIN agent_jobs j ON j.scan_id = s.id AND j.kind = 'compliance_check'
        WHERE s.id = ANY(:ids) AND s.status = 'running' AND j.status = 'completed'
        ORDER BY s.id
        FOR UPDATE OF s
    """), {"ids": scan_ids})).all()


async def load_checks(session: AsyncSession, template_ids: set[uuid.UUID]) -> dict[uuid.UUID, list[CheckInfo]]:
    rows = await session.execute(text("""
        SELECT template_id, id, rule_id, title, severity, remediation_type, remediation_requires_change
        FROM compliance_checks WHERE template_id = ANY(:ids) AND enabled ORDER BY template_id, position, rule_id
    """), {"ids": list(template_ids)})
    checks: dict[uuid.UUID, list[CheckInfo]] = defaultdict(list)
    for template_id, *values in rows:
        checks[template_id].append(CheckInfo(*values))
    return checks


async def _active_exceptions(session: AsyncSession, org_ids: set[uuid.UUID]) -> dict[uuid.UUID, list[ExceptionScope]]:
    rows = await session.execute(text("""
        SELECT org_id, id, rule_id, host_id, host_group_id, status, expires_at FROM compliance_exceptions
        WHERE org_id = ANY(:orgs) AND status = 'active' AND (expires_at IS NULL OR expires_at > now())
    """), {"orgs": list(org_ids)})
    by_org: dict[uuid.UUID, list[ExceptionScope]] = defaultdict(list)
    for org_id, *values in rows:
        by_org[org_id].append(ExceptionScope(*values))
    return by_org


async def _group_memberships(session: AsyncSession, host_ids: set[uuid.UUID]) -> dict[uuid.UUID, frozenset]:
    rows = await session.execute(
        text("SELECT host_id, group_id FROM host_group_members WHERE host_id = ANY(:hosts)"), {"hosts": list(host_ids)}
    )
    groups: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    for host_id, group_id in rows:
        groups[host_id].add(group_id)
    return {host: frozenset(ids) for host, ids in groups.items()}


def outcomes_for(checks: list[CheckInfo], result: dict | None) -> list[CheckOutcome]:
    """Every enabled check of the template gets an outcome; a check the agent did not answer is an error."""
    answered: dict[str, dict] = {}
    for item in (result or {}).get("results", []):
        answered[str(item.get("check_id"))] = item
    outcomes = []
    for check in checks:
        item = answered.get(str(check.id))
        if item is None:
            outcomes.append(CheckOutcome(check.id, check.rule_id, "error", NO_RESULT))
        else:
            outcomes.append(CheckOutcome(check.id, check.rule_id, item["status"], item.get("actual")))
    return outcomes


async def record_completed_scans(
    session: AsyncSession, scan_ids: list[uuid.UUID], now: datetime
) -> tuple[list[ScoredScan], dict[uuid.UUID, list[CheckInfo]]]:
    """Score and store every running scan whose agent job has completed; already-recorded scans are skipped."""
    rows = await _running_scans(session, scan_ids)
    if not rows:
        return [], {}
    checks = await load_checks(session, {r.template_id for r in rows})
    exceptions = await _active_exceptions(session, {r.org_id for r in rows})
    groups = await _group_memberships(session, {r.host_id for r in rows})

    scored: list[ScoredScan] = []
    for row in rows:
        outcomes = apply_waivers(outcomes_for(checks.get(row.template_id, []), row.result), row.host_id,
                                 groups.get(row.host_id, frozenset()), exceptions.get(row.org_id, []), now)
        counts = count_statuses(o.status for o in outcomes)
        score = compute_score(counts)
        scored.append(ScoredScan(
            scan_id=row.id, org_id=row.org_id, host_id=row.host_id, policy_id=row.policy_id,
            template_id=row.template_id, scan_type=row.scan_type, remediation_id=row.remediation_id,
            completed_at=row.completed_at, score=score.score, score_reason=score.reason,
            counts={"total": counts.total, "passed": counts.passed, "failed": counts.failed, "errors": counts.errors,
                    "skipped": counts.skipped, "waived": counts.waived},
            outcomes=outcomes,
        ))
    await _store(session, scored)
    return scored, checks


async def _store(session: AsyncSession, scored: list[ScoredScan]) -> None:
    results = {k: [] for k in ("scan", "host", "policy", "org", "check", "rule", "status", "actual", "exc", "at")}
    for scan in scored:
        for o in scan.outcomes:
            results["scan"].append(scan.scan_id)
            results["host"].append(scan.host_id)
            results["policy"].append(scan.policy_id)
            results["org"].append(scan.org_id)
            results["check"].append(o.check_id)
            results["rule"].append(o.rule_id)
            results["status"].append(o.status)
            results["actual"].append(o.actual)
            results["exc"].append(o.exception_id)
            results["at"].append(scan.completed_at)

    await session.execute(text("""
        INSERT INTO scan_check_results (scan_id, check_id, rule_id, status, actual, exception_id)
        SELECT * FROM unnest(CAST(:scan AS uuid[]), CAST(:check AS uuid[]), CAST(:rule AS text[]),
                             CAST(:status AS text[]), CAST(:actual AS text[]), CAST(:exc AS uuid[]))
        ON CONFLICT DO NOTHING
    """), {k: results[k] for k in ("scan", "check", "rule", "status", "actual", "exc")})

    await session.execute(text("""
        INSERT INTO check_states (host_id, policy_id, check_id, org_id, rule_id, status, actual, exception_id,
                                  scan_id, updated_at)
        SELECT * FROM unnest(CAST(:host AS uuid[]), CAST(:policy AS uuid[]), CAST(:check AS uuid[]),
                             CAST(:org AS uuid[]), CAST(:rule AS text[]), CAST(:status AS text[]),
                             CAST(:actual AS text[]), CAST(:exc AS uuid[]), CAST(:scan AS uuid[]),
                             CAST(:at AS timestamptz[]))
        ON CONFLICT (host_id, policy_id, check_id) DO UPDATE SET
            org_id = EXCLUDED.org_id, rule_id = EXCLUDED.rule_id, status = EXCLUDED.status,
            actual = EXCLUDED.actual, exception_id = EXCLUDED.exception_id, scan_id = EXCLUDED.scan_id,
            updated_at = EXCLUDED.updated_at
        WHERE check_states.updated_at <= EXCLUDED.updated_at
    """), results)

    scans = {k: [] for k in ("id", "host", "policy", "org", "template", "score", "reason", "at",
                             "total", "passed", "failed", "errors", "skipped", "waived")}
    for scan in scored:
        for key, value in (("id", scan.scan_id), ("host", scan.host_id), ("policy", scan.policy_id),
                           ("org", scan.org_id), ("template", scan.template_id), ("score", scan.score),
                           ("reason", scan.score_reason), ("at", scan.completed_at)):
            scans[key].append(value)
        for key in ("total", "passed", "failed", "errors", "skipped", "waived"):
            scans[key].append(scan.counts[key])

    # Checks that left the template since the last scan are no longer part of the host's latest state.
    await session.execute(text("""
        DELETE FROM check_states cs
        USING unnest(CAST(:host AS uuid[]), CAST(:policy AS uuid[]), CAST(:id AS uuid[]), CAST(:at AS timestamptz[]))
              AS n(host_id, policy_id, scan_id, at)
        WHERE cs.host_id = n.host_id AND cs.policy_id = n.policy_id AND cs.scan_id <> n.scan_id
          AND cs.updated_at <= n.at
    """), scans)

    await session.execute(text("""
        UPDATE compliance_scans s SET status = 'completed', score = n.score, score_reason = n.reason,
            total = n.total, passed = n.passed, failed = n.failed, errors = n.errors, skipped = n.skipped,
            waived = n.waived, completed_at = n.at, updated_at = now()
        FROM unnest(CAST(:id AS uuid[]), CAST(:score AS numeric[]), CAST(:reason AS text[]),
                    CAST(:total AS int[]), CAST(:passed AS int[]), CAST(:failed AS int[]), CAST(:errors AS int[]),
                    CAST(:skipped AS int[]), CAST(:waived AS int[]), CAST(:at AS timestamptz[]))
             AS n(id, score, reason, total, passed, failed, errors, skipped, waived, at)
        WHERE s.id = n.id
    """), scans)

    await session.execute(text("""
        INSERT INTO host_policy_status (host_id, policy_id, org_id, scan_id, template_id, score, total, passed,
                                        failed, errors, skipped, waived, last_completed_at)
        SELECT * FROM unnest(CAST(:host AS uuid[]), CAST(:policy AS uuid[]), CAST(:org AS uuid[]),
                             CAST(:id AS uuid[]), CAST(:template AS uuid[]), CAST(:score AS numeric[]),
                             CAST(:total AS int[]), CAST(:passed AS int[]), CAST(:failed AS int[]),
                             CAST(:errors AS int[]), CAST(:skipped AS int[]), CAST(:waived AS int[]),
                             CAST(:at AS timestamptz[]))
        ON CONFLICT (host_id, policy_id) DO UPDATE SET
            org_id = EXCLUDED.org_id, scan_id = EXCLUDED.scan_id, template_id = EXCLUDED.template_id,
            score = EXCLUDED.score, total = EXCLUDED.total, passed = EXCLUDED.passed, failed = EXCLUDED.failed,
            errors = EXCLUDED.errors, skipped = EXCLUDED.skipped, waived = EXCLUDED.waived,
            last_completed_at = EXCLUDED.last_completed_at
        WHERE host_policy_status.last_completed_at <= EXCLUDED.last_completed_at
    """), scans)


async def mark_timed_out(session: AsyncSession, scan_ids: list[uuid.UUID]) -> int:
    """Scans whose agent never answered end as `error` / `agent_timeout`; their jobs stop being offered."""
    if not scan_ids:
        return 0
    result = await session.execute(text("""
        UPDATE compliance_scans SET status = 'error', error_reason = 'agent_timeout', completed_at = now(),
               updated_at = now()
        WHERE id = ANY(:ids) AND status IN ('queued', 'running')
    """), {"ids": scan_ids})
    await session.execute(text("""
        UPDATE agent_jobs SET status = 'timed_out', updated_at = now()
        WHERE scan_id = ANY(:ids) AND kind = 'compliance_check' AND status IN ('pending', 'delivered')
    """), {"ids": scan_ids})
    return result.rowcount
