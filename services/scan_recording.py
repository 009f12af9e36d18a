"""Set-based recording of finished scans: waivers, counts, scores, history, latest state — one transaction."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter

from psycopg.rows import namedtuple_row
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from domain.exceptions import ExceptionScope, find_waiver
from domain.scoring import (
    DEFAULT_INCOMPLETE_ERROR_SHARE,
    INCOMPLETE,
    ScoreCounts,
    compute_score,
    count_statuses,
    is_incomplete,
)
from services import history_copy

NO_RESULT = "no result returned by the agent"
_CHECK_ID, _STATUS, _ACTUAL = itemgetter("check_id"), itemgetter("status"), itemgetter("actual")


@dataclass
class CheckInfo:
    id: uuid.UUID
    rule_id: str
    title: str
    severity: str
    remediation_type: str
    requires_change: bool
    key: str = field(init=False, repr=False)  # the id as agents write it

    def __post_init__(self) -> None:
        self.key = str(self.id)


@dataclass
class ScoredScan:
    """A recorded scan. Its outcomes are columns in the order of its template's enabled checks (`load_checks`),
    not one object per check: a micro-batch holds tens of thousands of them."""

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
    incomplete: bool = False
    statuses: list[str] = field(repr=False, default_factory=list)
    actuals: list[str | None] = field(repr=False, default_factory=list)
    waivers: dict[int, uuid.UUID] = field(repr=False, default_factory=dict)  # position -> waiving exception


@dataclass
class TemplateChecks:
    """A template's enabled checks with what every scan of it shares, computed once per micro-batch."""

    checks: list[CheckInfo]
    keys: list[str] = field(init=False)
    encoded_check_ids: bytes = field(init=False, repr=False)
    encoded_rule_ids: bytes = field(init=False, repr=False)
    no_waivers: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.keys = [c.key for c in self.checks]
        self.encoded_check_ids = history_copy.uuid_array([c.id for c in self.checks])
        self.encoded_rule_ids = history_copy.text_array([c.rule_id for c in self.checks])
        self.no_waivers = history_copy.uuid_array([None] * len(self.checks))

    def positions_of(self, rule_ids) -> list[int]:
        return [n for n, c in enumerate(self.checks) if c.rule_id in rule_ids]


# What recording reads before it scores, sent together in one round trip (a psycopg pipeline): the scans to record,
# locked, and the checks, live exceptions and group memberships that scoring them needs, found through the same
# scan ids. Only running scans are recorded, so none has a history row yet: the delete only guards against a row
# left by hand, which would stop the history COPY.
_SCANS_TO_RECORD = """
    WITH stray_history AS (
        DELETE FROM scan_results r USING compliance_scans s
        WHERE r.scan_id = s.id AND s.id = ANY(%(ids)s) AND s.status = 'running'
    )
    SELECT s.id, s.org_id, s.host_id, s.policy_id, s.template_id, s.scan_type, s.remediation_id,
           j.result, coalesce(j.completed_at, now()) AS completed_at
    FROM compliance_scans s
    JOIN agent_jobs j ON j.scan_id = s.id AND j.kind = 'compliance_check'
    WHERE s.id = ANY(%(ids)s) AND s.status = 'running' AND j.status = 'completed'
    ORDER BY s.id
    FOR UPDATE OF s
"""
_CHECKS = """
    SELECT template_id, id, rule_id, title, severity, remediation_type, remediation_requires_change
    FROM compliance_checks WHERE template_id = ANY({templates}) AND enabled ORDER BY template_id, position, rule_id
"""
_SCANNED = "ARRAY(SELECT {column} FROM compliance_scans WHERE id = ANY(%(ids)s) AND status = 'running')"
_EXCEPTIONS_OF_SCANS = f"""
    SELECT org_id, id, rule_id, host_id, host_group_id, status, expires_at FROM compliance_exceptions
    WHERE org_id = ANY({_SCANNED.format(column="org_id")}) AND status = 'active'
      AND (expires_at IS NULL OR expires_at > now())
"""
_GROUPS_OF_SCANS = f"""
    SELECT host_id, group_id FROM host_group_members WHERE host_id = ANY({_SCANNED.format(column="host_id")})
"""


@dataclass
class _Inputs:
    scans: list
    checks: dict[uuid.UUID, list[CheckInfo]]
    exceptions: dict[uuid.UUID, dict[str, list[ExceptionScope]]]  # per organization, its live exceptions by rule
    groups: dict[uuid.UUID, frozenset]  # per host, its groups


async def _read_inputs(session: AsyncSession, scan_ids: list[uuid.UUID]) -> _Inputs:
    connection = (await (await session.connection()).get_raw_connection()).driver_connection
    params = {"ids": scan_ids}
    async with connection.pipeline():
        scans = await connection.cursor(row_factory=namedtuple_row).execute(_SCANS_TO_RECORD, params)
        checks = await connection.execute(_CHECKS.format(templates=_SCANNED.format(column="template_id")), params)
        exceptions = await connection.execute(_EXCEPTIONS_OF_SCANS, params)
        groups = await connection.execute(_GROUPS_OF_SCANS, params)
    inputs = _Inputs(await scans.fetchall(), defaultdict(list), defaultdict(lambda: defaultdict(list)), {})
    for template_id, *values in await checks.fetchall():
        inputs.checks[template_id].append(CheckInfo(*values))
    for org_id, *values in await exceptions.fetchall():
        exception = ExceptionScope(*values)
        inputs.exceptions[org_id][exception.rule_id].append(exception)
    members: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    for host_id, group_id in await groups.fetchall():
        members[host_id].add(group_id)
    inputs.groups = {host: frozenset(ids) for host, ids in members.items()}
    return inputs


async def load_checks(session: AsyncSession, template_ids: set[uuid.UUID]) -> dict[uuid.UUID, list[CheckInfo]]:
    """The enabled checks of each template, in the order agents answer them."""
    connection = (await (await session.connection()).get_raw_connection()).driver_connection
    cursor = await connection.execute(_CHECKS.format(templates="%(ids)s"), {"ids": list(template_ids)})
    checks: dict[uuid.UUID, list[CheckInfo]] = defaultdict(list)
    for template_id, *values in await cursor.fetchall():
        checks[template_id].append(CheckInfo(*values))
    return checks


def answers(template: TemplateChecks, result: dict | None) -> tuple[list[str], list[str | None]]:
    """Every enabled check's status and actual value, in template order; a check the agent did not answer is an
    error. Agents answer in the order of their job, so the answers usually line up with the template as they are."""
    items = (result or {}).get("results", [])
    if len(items) == len(template.keys):
        try:  # the API stores every field of every answer, so they are read by key in C
            if list(map(_CHECK_ID, items)) == template.keys:
                return list(map(_STATUS, items)), list(map(_ACTUAL, items))
        except (KeyError, TypeError):
            pass
    answered = {str(item.get("check_id")): item for item in items}
    statuses, actuals = [], []
    for key in template.keys:
        item = answered.get(key)
        statuses.append("error" if item is None else item["status"])
        actuals.append(NO_RESULT if item is None else item.get("actual"))
    return statuses, actuals


def tally(statuses: list[str]) -> ScoreCounts:
    """count_statuses, by five counts in C; any other status is left to count_statuses to refuse."""
    counts = ScoreCounts(total=len(statuses), passed=statuses.count("pass"), failed=statuses.count("fail"),
                         errors=statuses.count("error"), skipped=statuses.count("skip"),
                         waived=statuses.count("waived"))
    known = counts.passed + counts.failed + counts.errors + counts.skipped + counts.waived
    return counts if known == counts.total else count_statuses(statuses)


def waive(template: TemplateChecks, statuses: list[str], positions: list[int], host_id: uuid.UUID,
          groups: frozenset, exceptions: dict[str, list[ExceptionScope]], now: datetime) -> dict[int, uuid.UUID]:
    """Turn failures that a live exception covers into `waived` (in place); the waiving exception by position.
    Only `positions`, the checks whose rules have exceptions, are looked at."""
    waivers = {}
    for n in positions:
        if statuses[n] == "fail":
            rule_id = template.checks[n].rule_id
            exception_id = find_waiver(rule_id, host_id, groups, exceptions[rule_id], now)
            if exception_id is not None:
                statuses[n], waivers[n] = "waived", exception_id
    return waivers


async def record_completed_scans(
    session: AsyncSession, scan_ids: list[uuid.UUID], now: datetime,
    max_error_share: float = DEFAULT_INCOMPLETE_ERROR_SHARE,
) -> tuple[list[ScoredScan], dict[uuid.UUID, list[CheckInfo]]]:
    """Score and store every running scan whose agent job has completed; already-recorded scans are skipped.
    A scan with too many errors keeps its score but is marked incomplete (score_reason)."""
    inputs = await _read_inputs(session, scan_ids)
    rows, checks, exceptions, groups = inputs.scans, inputs.checks, inputs.exceptions, inputs.groups
    if not rows:
        return [], {}
    templates = {template_id: TemplateChecks(template_checks) for template_id, template_checks in checks.items()}
    empty = TemplateChecks([])
    waivable: dict[tuple[uuid.UUID, uuid.UUID], list[int]] = {}

    # History rows go to the server a few scans at a time as they are scored, so the server stores them while the
    # next ones are scored.
    scored: list[ScoredScan] = []
    pending = [history_copy.SIGNATURE]
    connection = await (await session.connection()).get_raw_connection()
    async with connection.driver_connection.cursor() as cursor, cursor.copy(HISTORY_COPY) as copy:
        for row in rows:
            template = templates.get(row.template_id, empty)
            statuses, actuals = answers(template, row.result)
            waivers = {}
            if org_exceptions := exceptions.get(row.org_id):
                key = (row.template_id, row.org_id)
                if key not in waivable:
                    waivable[key] = template.positions_of(org_exceptions)
                waivers = waive(template, statuses, waivable[key], row.host_id,
                                groups.get(row.host_id, frozenset()), org_exceptions, now)
            counts = tally(statuses)
            score = compute_score(counts)
            incomplete = is_incomplete(counts, max_error_share)
            scan = ScoredScan(
                scan_id=row.id, org_id=row.org_id, host_id=row.host_id, policy_id=row.policy_id,
                template_id=row.template_id, scan_type=row.scan_type, remediation_id=row.remediation_id,
                completed_at=row.completed_at, score=score.score,
                score_reason=INCOMPLETE if incomplete and score.reason is None else score.reason,
                incomplete=incomplete,
                counts={"total": counts.total, "passed": counts.passed, "failed": counts.failed,
                        "errors": counts.errors, "skipped": counts.skipped, "waived": counts.waived},
                statuses=statuses, actuals=actuals, waivers=waivers,
            )
            scored.append(scan)
            pending.append(history_row(scan, template))
            if len(pending) >= COPY_ROWS_PER_WRITE:
                await copy.write(b"".join(pending))
                pending = []
        await copy.write(b"".join([*pending, history_copy.TRAILER]))
    await _store_state_and_scores(session, scored)
    return scored, checks


COPY_ROWS_PER_WRITE = 10
# History is one `scan_results` row per scan (parallel arrays in template order), written by binary COPY.
HISTORY_COPY = ("COPY scan_results (scan_id, check_ids, rule_ids, statuses, actuals, exception_ids) "
                "FROM STDIN (FORMAT BINARY)")


def history_row(scan: ScoredScan, template: TemplateChecks) -> bytes:
    waivers = (history_copy.sparse_uuid_array(len(scan.statuses), scan.waivers) if scan.waivers
               else template.no_waivers)
    return history_copy.row(scan.scan_id.bytes, template.encoded_check_ids, template.encoded_rule_ids,
                            history_copy.status_array(scan.statuses), history_copy.text_array(scan.actuals), waivers)


async def _store_state_and_scores(session: AsyncSession, scored: list[ScoredScan]) -> None:
    """In one statement: bring check_states up to date from the history just written, complete the scans with
    their counts and scores, and move their host statuses on.

    Most checks of a host give the same outcome scan after scan, so a steady fleet rewrites a few state rows per
    scan instead of one per check; states of checks no longer in the template go. A scan older than the latest
    one recorded for its host and policy changes neither the state nor the host status. Every part of the
    statement sees the host statuses as they were before it, so the state is compared with the previous scan.
    """
    latest: dict[tuple[uuid.UUID, uuid.UUID], ScoredScan] = {}
    for scan in sorted(scored, key=lambda s: s.completed_at):
        latest[(scan.host_id, scan.policy_id)] = scan
    params = {"state_scan": [s.scan_id for s in latest.values()], "state_host": [s.host_id for s in latest.values()],
              "state_policy": [s.policy_id for s in latest.values()],
              "state_org": [s.org_id for s in latest.values()], "state_at": [s.completed_at for s in latest.values()]}
    await session.execute(text(_STATE_AND_SCORES), params | _score_columns(scored))


# The state of a host and policy is the history of its latest recorded scan (host_policy_status.scan_id), spread
# over rows. `current`: this batch's latest scan per host and policy, unless an even later one is recorded.
# When the previous scan ran the same checks in the same order (the common case), the two histories are compared
# position by position and only differing outcomes come out (`changed_in_place`): no per-check lookup at all.
# Otherwise (first scan, new template version) the new outcomes (`fresh`) are compared with the state rows
# (`existing`, read by index range per host and policy), and states of departed checks are deleted.
# The arrays are unnested in the select list, where the unnests advance in step one value at a time; unnest(a, b,
# ...) in FROM stores each array's elements in a tuplestore first, which made the comparison 2.5x slower.
_STATE_DELTA = """
    current AS MATERIALIZED (
        SELECT n.*, h.scan_id AS previous_scan_id
        FROM unnest(CAST(:state_scan AS uuid[]), CAST(:state_host AS uuid[]), CAST(:state_policy AS uuid[]),
                    CAST(:state_org AS uuid[]), CAST(:state_at AS timestamptz[])) AS n(scan_id, host_id, policy_id,
                                                                                          org_id, at)
        LEFT JOIN host_policy_status h ON h.host_id = n.host_id AND h.policy_id = n.policy_id
        WHERE h.last_completed_at IS NULL OR h.last_completed_at <= n.at
    ),
    paired AS MATERIALIZED (
        SELECT n.*, r.check_ids, r.rule_ids, r.statuses, r.actuals, r.exception_ids,
               p.statuses AS previous_statuses, p.actuals AS previous_actuals,
               p.exception_ids AS previous_exception_ids,
               p.check_ids IS NOT DISTINCT FROM r.check_ids AS in_place
        FROM current n
        JOIN scan_results r ON r.scan_id = n.scan_id
        LEFT JOIN scan_results p ON p.scan_id = n.previous_scan_id
    ),
    changed_in_place AS (
        SELECT * FROM (
            SELECT n.scan_id, n.host_id, n.policy_id, n.org_id, n.at, unnest(n.check_ids) AS check_id,
                   unnest(n.rule_ids) AS rule_id, unnest(n.statuses) AS status, unnest(n.actuals) AS actual,
                   unnest(n.exception_ids) AS exception_id, unnest(n.previous_statuses) AS was_status,
                   unnest(n.previous_actuals) AS was_actual, unnest(n.previous_exception_ids) AS was_exception
            FROM paired n WHERE n.in_place
        ) u
        WHERE (u.status, u.actual, u.exception_id) IS DISTINCT FROM (u.was_status, u.was_actual, u.was_exception)
    ),
    fresh AS MATERIALIZED (
        SELECT n.scan_id, n.host_id, n.policy_id, n.org_id, n.at, unnest(n.check_ids) AS check_id,
               unnest(n.rule_ids) AS rule_id, unnest(n.statuses) AS status, unnest(n.actuals) AS actual,
               unnest(n.exception_ids) AS exception_id
        FROM paired n
        WHERE NOT n.in_place
    ),
    existing AS MATERIALIZED (
        SELECT cs.host_id, cs.policy_id, cs.check_id, cs.status, cs.actual, cs.exception_id
        FROM paired n
        JOIN check_states cs ON cs.host_id = n.host_id AND cs.policy_id = n.policy_id
        WHERE NOT n.in_place
    )"""


def _score_columns(scored: list[ScoredScan]) -> dict[str, list]:
    scans = {k: [] for k in ("id", "host", "policy", "org", "template", "score", "reason", "at",
                             "total", "passed", "failed", "errors", "skipped", "waived", "incomplete")}
    for scan in scored:
        for key, value in (("id", scan.scan_id), ("host", scan.host_id), ("policy", scan.policy_id),
                           ("org", scan.org_id), ("template", scan.template_id), ("score", scan.score),
                           ("reason", scan.score_reason), ("at", scan.completed_at),
                           ("incomplete", scan.incomplete)):
            scans[key].append(value)
        for key in ("total", "passed", "failed", "errors", "skipped", "waived"):
            scans[key].append(scan.counts[key])
    return scans


_STATE_AND_SCORES = f"""
    WITH {_STATE_DELTA},
    departed AS (
        DELETE FROM check_states cs
        USING (SELECT e.host_id, e.policy_id, e.check_id FROM existing e
               WHERE NOT EXISTS (SELECT 1 FROM fresh f WHERE f.host_id = e.host_id AND f.policy_id = e.policy_id
                                                         AND f.check_id = e.check_id)) d
        WHERE cs.host_id = d.host_id AND cs.policy_id = d.policy_id AND cs.check_id = d.check_id
    ),
    states AS (
        INSERT INTO check_states (host_id, policy_id, check_id, org_id, rule_id, status, actual, exception_id,
                                  scan_id, updated_at)
        SELECT f.host_id, f.policy_id, f.check_id, f.org_id, f.rule_id, f.status, f.actual, f.exception_id,
               f.scan_id, f.at
        FROM fresh f
        LEFT JOIN existing e ON e.host_id = f.host_id AND e.policy_id = f.policy_id AND e.check_id = f.check_id
        WHERE e.host_id IS NULL
           OR (e.status, e.actual, e.exception_id) IS DISTINCT FROM (f.status, f.actual, f.exception_id)
        UNION ALL
        SELECT host_id, policy_id, check_id, org_id, rule_id, status, actual, exception_id, scan_id, at
        FROM changed_in_place
        ON CONFLICT (host_id, policy_id, check_id) DO UPDATE SET
            org_id = EXCLUDED.org_id, rule_id = EXCLUDED.rule_id, status = EXCLUDED.status,
            actual = EXCLUDED.actual, exception_id = EXCLUDED.exception_id, scan_id = EXCLUDED.scan_id,
            updated_at = EXCLUDED.updated_at
    ),
    scores AS (
        SELECT * FROM unnest(CAST(:id AS uuid[]), CAST(:host AS uuid[]), CAST(:policy AS uuid[]),
                             CAST(:org AS uuid[]), CAST(:template AS uuid[]), CAST(:score AS numeric[]),
                             CAST(:reason AS text[]), CAST(:total AS int[]), CAST(:passed AS int[]),
                             CAST(:failed AS int[]), CAST(:errors AS int[]), CAST(:skipped AS int[]),
                             CAST(:waived AS int[]), CAST(:at AS timestamptz[]), CAST(:incomplete AS boolean[]))
             AS n(id, host_id, policy_id, org_id, template_id, score, reason, total, passed, failed, errors,
                  skipped, waived, at, incomplete)
    ),
    completed AS (
        UPDATE compliance_scans s SET status = 'completed', score = n.score, score_reason = n.reason,
            total = n.total, passed = n.passed, failed = n.failed, errors = n.errors, skipped = n.skipped,
            waived = n.waived, completed_at = n.at, updated_at = now()
        FROM scores n
        WHERE s.id = n.id
    )
    INSERT INTO host_policy_status (host_id, policy_id, org_id, scan_id, template_id, score, total, passed,
                                    failed, errors, skipped, waived, last_completed_at, incomplete)
    SELECT host_id, policy_id, org_id, id, template_id, score, total, passed, failed, errors, skipped, waived,
           at, incomplete
    FROM scores
    ON CONFLICT (host_id, policy_id) DO UPDATE SET
        org_id = EXCLUDED.org_id, scan_id = EXCLUDED.scan_id, template_id = EXCLUDED.template_id,
        score = EXCLUDED.score, total = EXCLUDED.total, passed = EXCLUDED.passed, failed = EXCLUDED.failed,
        errors = EXCLUDED.errors, skipped = EXCLUDED.skipped, waived = EXCLUDED.waived,
        last_completed_at = EXCLUDED.last_completed_at, incomplete = EXCLUDED.incomplete
    WHERE host_policy_status.last_completed_at <= EXCLUDED.last_completed_at
"""


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
