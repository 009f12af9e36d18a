"""Scan records and agent jobs: planning a tick, opening batches, queueing one-host scans.

Shared by the scan activities and the API."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from domain.batching import effective_batch_size
from domain.errors import BadRequest, NotFound
from domain.scoring import DEFAULT_INCOMPLETE_ERROR_SHARE
from domain.templates import TemplateVersion, resolve_template
from models import CompliancePolicy, ComplianceScan, ComplianceTemplate, PolicyHostOverride
from orchestration import ids
from orchestration.types import RemediationStart, WebhookEvent
from services import incidents
from services.remediation import plan_scan_remediations
from services.scan_recording import ScoredScan, mark_timed_out, record_completed_scans

WORKFLOW_CHUNK = 1000
JOBS_CHANNEL = "agent_jobs"
# A notification's payload must stay under 8,000 bytes: 36 characters and a comma per host id.
HOSTS_PER_NOTIFICATION = 200

# The compliance-check job of each scan row `s` of {scans} (id, org_id, host_id, template_id).
_CHECK_JOBS = """
    INSERT INTO agent_jobs (id, org_id, host_id, kind, payload, status, scan_id, late, completion_pending,
                            created_at, updated_at)
    SELECT gen_random_uuid(), s.org_id, s.host_id, 'compliance_check',
           jsonb_build_object('scan_id', s.id, 'template_id', s.template_id), 'pending', s.id, false, false,
           now(), now()
    FROM {scans} s
"""

_DUE_HOSTS = """
    FROM hosts h
    LEFT JOIN host_policy_status hps ON hps.host_id = h.id AND hps.policy_id = :policy_id
    WHERE h.org_id = :org_id AND h.os_type = :os_type AND h.last_seen >= :seen_since
      AND (hps.last_completed_at IS NULL OR hps.last_completed_at < :due_before)
      AND NOT EXISTS (SELECT 1 FROM compliance_scans s
                      WHERE s.host_id = h.id AND s.policy_id = :policy_id AND s.status IN ('queued', 'running'))
"""


def template_version(t: ComplianceTemplate) -> TemplateVersion:
    return TemplateVersion(id=t.id, lineage_id=t.lineage_id, version=t.version, status=t.status, is_system=t.is_system)


async def policy_templates(
    session: AsyncSession, policies: list[CompliancePolicy]
) -> dict[uuid.UUID, ComplianceTemplate]:
    """The template each policy scans with when no host override applies (pinned version or newest published)."""
    if not policies:
        return {}
    base = {t.id: t for t in await session.scalars(
        select(ComplianceTemplate).where(ComplianceTemplate.id.in_({p.template_id for p in policies}))
    )}
    lineage_rows = await session.scalars(select(ComplianceTemplate).where(
        ComplianceTemplate.lineage_id.in_({t.lineage_id for t in base.values()})
    ))
    by_id = {t.id: t for t in lineage_rows}
    lineages: dict[uuid.UUID, list[TemplateVersion]] = defaultdict(list)
    for t in by_id.values():
        lineages[t.lineage_id].append(template_version(t))
    resolved = {}
    for policy in policies:
        template = base.get(policy.template_id)
        if template is None:
            continue
        chosen = resolve_template(template_version(template), policy.pinned_template_version, None, lineages)
        if chosen is not None:
            resolved[policy.id] = by_id[chosen.id]
    return resolved


async def host_template(
    session: AsyncSession, policy: CompliancePolicy, host_id: uuid.UUID
) -> ComplianceTemplate | None:
    override = await session.scalar(select(PolicyHostOverride).where(
        PolicyHostOverride.policy_id == policy.id, PolicyHostOverride.host_id == host_id))
    if override is not None:
        return await session.get(ComplianceTemplate, override.template_id)
    return (await policy_templates(session, [policy])).get(policy.id)


@dataclass
class PolicyPlan:
    policy_id: uuid.UUID
    due: int
    batch_size: int
    opened: int


async def plan_policy(
    session: AsyncSession, policy: CompliancePolicy, template: ComplianceTemplate, tick: str, now: datetime,
    *, cycle_minutes: int, seen_within: timedelta, workflow_chunk: int = WORKFLOW_CHUNK,
) -> PolicyPlan:
    """Open scans and agent jobs for this tick's share of the policy's due hosts, oldest first, chunked into batch
    workflows, and tell the API at commit which hosts got jobs.

    One statement writes each scan as running with its job, so no batch rewrites its scans: the scans' UPDATE to
    running cost a second write of every row and of its indexes. A batch workflow only waits for these jobs."""
    params = {"policy_id": policy.id, "org_id": policy.org_id, "os_type": policy.os_type,
              "seen_since": now - seen_within, "due_before": now - timedelta(hours=policy.scan_interval_hours)}
    due = await session.scalar(text(f"SELECT count(*) {_DUE_HOSTS}"), params) or 0
    size = effective_batch_size(policy.batch_size, due, policy.scan_interval_hours, cycle_minutes)
    if due == 0:
        return PolicyPlan(policy.id, 0, size, 0)
    batch_ids = [ids.scan_batch(policy.id, tick, n) for n in range(-(-size // workflow_chunk))]
    hosts = list(await session.scalars(text(f"""
        WITH due AS (
            SELECT h.id AS host_id, hps.last_completed_at {_DUE_HOSTS}
            ORDER BY hps.last_completed_at NULLS FIRST, h.id
            LIMIT :limit
        ), numbered AS (
            SELECT host_id, (row_number() OVER (ORDER BY last_completed_at NULLS FIRST, host_id) - 1) / :chunk AS n
            FROM due
        ), opened AS (
            INSERT INTO compliance_scans (id, org_id, host_id, policy_id, template_id, template_version, scan_type,
                                          status, workflow_id, result_data, total, passed, failed, errors, skipped,
                                          waived, started_at, created_at, updated_at)
            SELECT gen_random_uuid(), :org_id, numbered.host_id, :policy_id, coalesce(o.template_id, :template_id),
                   coalesce(ot.version, :template_version), 'scheduled', 'running',
                   (CAST(:batch_ids AS text[]))[numbered.n + 1], '{{}}',
                   0, 0, 0, 0, 0, 0, now(), now(), now()
            FROM numbered
            LEFT JOIN policy_host_overrides o ON o.policy_id = :policy_id AND o.host_id = numbered.host_id
            LEFT JOIN compliance_templates ot ON ot.id = o.template_id
            ON CONFLICT DO NOTHING
            RETURNING id, org_id, host_id, template_id
        )
        {_CHECK_JOBS.format(scans="opened")}
        RETURNING host_id
    """), params | {"limit": size, "chunk": workflow_chunk, "batch_ids": batch_ids, "template_id": template.id,
                    "template_version": template.version}))
    await notify_jobs(session, set(hosts))
    return PolicyPlan(policy.id, due, size, len(hosts))


async def queued_batches(session: AsyncSession, tick: str) -> list[tuple[str, uuid.UUID, uuid.UUID, int]]:
    """The tick's batch workflows with their open scans (a retried planning finds what the first attempt opened)."""
    rows = await session.execute(text("""
        SELECT workflow_id, policy_id, org_id, count(*) FROM compliance_scans
        WHERE status IN ('queued', 'running') AND scan_type = 'scheduled' AND workflow_id LIKE :pattern
        GROUP BY workflow_id, policy_id, org_id ORDER BY workflow_id
    """), {"pattern": ids.scan_batches_of_tick(tick)})
    return [tuple(r) for r in rows]


async def open_jobs(session: AsyncSession, batch_id: str) -> list[tuple[uuid.UUID, uuid.UUID, uuid.UUID]]:
    """Open the agent job of every open scan of the batch that has none, mark queued scans running (idempotent),
    and return (scan, job, host) of every running scan. Planning opens scheduled scans with their jobs; one-host
    scans are queued and opened here."""
    hosts = list(await session.scalars(text(f"""
        {_CHECK_JOBS.format(scans="compliance_scans")}
        WHERE s.workflow_id = :batch AND s.status IN ('queued', 'running')
          AND NOT EXISTS (SELECT 1 FROM agent_jobs j WHERE j.scan_id = s.id AND j.kind = 'compliance_check')
        ON CONFLICT DO NOTHING
        RETURNING host_id
    """), {"batch": batch_id}))
    await session.execute(text("""
        UPDATE compliance_scans SET status = 'running', started_at = coalesce(started_at, now()), updated_at = now()
        WHERE workflow_id = :batch AND status = 'queued'
    """), {"batch": batch_id})
    rows = await session.execute(text("""
        SELECT s.id, j.id, s.host_id FROM compliance_scans s
        JOIN agent_jobs j ON j.scan_id = s.id AND j.kind = 'compliance_check'
        WHERE s.workflow_id = :batch AND s.status = 'running'
        ORDER BY s.created_at, s.id
    """), {"batch": batch_id})
    await notify_jobs(session, set(hosts))
    return [tuple(r) for r in rows]


async def notify_jobs(session: AsyncSession, host_ids: set[uuid.UUID]) -> None:
    """Tell the API processes, at commit, which hosts got jobs, so that only those hosts' long polls wake: one
    statement, one notification per HOSTS_PER_NOTIFICATION hosts."""
    ordered = sorted(str(host_id) for host_id in host_ids)
    payloads = [",".join(ordered[i:i + HOSTS_PER_NOTIFICATION])
                for i in range(0, len(ordered), HOSTS_PER_NOTIFICATION)]
    if payloads:
        await session.execute(text("SELECT pg_notify(:channel, p) FROM unnest(CAST(:payloads AS text[])) AS p"),
                              {"channel": JOBS_CHANNEL, "payloads": payloads})


async def open_single_scan(
    session: AsyncSession, policy: CompliancePolicy, host_id: uuid.UUID, template: ComplianceTemplate,
    scan_type: str, *, requested_by: uuid.UUID | None = None, remediation_id: uuid.UUID | None = None,
) -> tuple[ComplianceScan, bool]:
    """Queue a one-host scan, or return the one already queued or running for this host and policy."""
    scan_id = uuid.uuid4()
    inserted = await session.execute(text("""
        INSERT INTO compliance_scans (id, org_id, host_id, policy_id, template_id, template_version, scan_type,
                                      status, workflow_id, result_data, total, passed, failed, errors, skipped,
                                      waived, requested_by, remediation_id, created_at, updated_at)
        VALUES (:id, :org_id, :host_id, :policy_id, :template_id, :version, :scan_type, 'queued', :workflow_id,
                '{}', 0, 0, 0, 0, 0, 0, :requested_by, :remediation_id, now(), now())
        ON CONFLICT DO NOTHING
    """), {"id": scan_id, "org_id": policy.org_id, "host_id": host_id, "policy_id": policy.id,
           "template_id": template.id, "version": template.version, "scan_type": scan_type,
           "workflow_id": ids.single_scan(scan_id), "requested_by": requested_by, "remediation_id": remediation_id})
    if inserted.rowcount == 1:
        return await session.get(ComplianceScan, scan_id), True
    existing = await session.scalar(select(ComplianceScan).where(
        ComplianceScan.host_id == host_id, ComplianceScan.policy_id == policy.id,
        ComplianceScan.status.in_(("queued", "running"))))
    return existing, False


@dataclass
class RecordedBatch:
    scored: list[ScoredScan]
    timed_out: int
    events: list[WebhookEvent]
    remediations: list[RemediationStart]


async def answered_scans(session: AsyncSession, batch_id: str, besides: list[uuid.UUID], limit: int
                         ) -> list[uuid.UUID]:
    """Up to `limit` running scans of the batch, other than `besides`, whose agents have answered: the batch
    workflow records them without waiting on each."""
    if limit <= 0:
        return []
    return list(await session.scalars(text("""
        SELECT s.id FROM compliance_scans s
        JOIN agent_jobs j ON j.scan_id = s.id AND j.kind = 'compliance_check'
        WHERE s.workflow_id = :batch AND s.status = 'running' AND j.status = 'completed'
          AND s.id <> ALL(CAST(:besides AS uuid[]))
        ORDER BY j.completed_at
        LIMIT :limit
    """), {"batch": batch_id, "besides": besides, "limit": limit}))


async def record_batch(session: AsyncSession, completed: list[uuid.UUID], timed_out: list[uuid.UUID],
                       now: datetime, max_error_share: float = DEFAULT_INCOMPLETE_ERROR_SHARE) -> RecordedBatch:
    """Score and store a micro-batch, end the scans whose agent never answered, raise the notifications, alerts
    and incidents, and plan the remediations, in the caller's transaction."""
    scored, checks = await record_completed_scans(session, completed, now, max_error_share)
    ended = await mark_timed_out(session, timed_out)
    if not scored:
        return RecordedBatch(scored, ended, [], [])
    events = await incidents.evaluate_scans(session, scored, checks, now)
    remediations = await plan_scan_remediations(session, scored, checks, now)
    return RecordedBatch(scored, ended, events, remediations)


@dataclass
class ScanPair:
    before: ComplianceScan
    after: ComplianceScan


async def scans_to_compare(session: AsyncSession, host_id: uuid.UUID, from_scan: uuid.UUID | None,
                           to_scan: uuid.UUID | None) -> ScanPair:
    """The two completed scans of a host to compare: as given, or by default its latest completed scan and the
    completed scan of the same policy just before it."""
    completed = select(ComplianceScan).where(ComplianceScan.host_id == host_id,
                                             ComplianceScan.status == "completed")
    newest_first = (ComplianceScan.completed_at.desc(), ComplianceScan.id.desc())
    if to_scan is not None:
        after = await _scan_of_host(session, host_id, to_scan)
    else:
        after = await session.scalar(completed.order_by(*newest_first).limit(1))
        if after is None:
            raise BadRequest("the host has no completed scan to compare")
    if from_scan is not None:
        before = await _scan_of_host(session, host_id, from_scan)
    else:
        before = await session.scalar(
            completed.where(ComplianceScan.policy_id == after.policy_id, ComplianceScan.id != after.id,
                            ComplianceScan.completed_at <= after.completed_at)
            .order_by(*newest_first).limit(1))
        if before is None:
            raise BadRequest("the host has no earlier completed scan to compare with")
    return ScanPair(before=before, after=after)


async def _scan_of_host(session: AsyncSession, host_id: uuid.UUID, scan_id: uuid.UUID) -> ComplianceScan:
    scan = await session.get(ComplianceScan, scan_id)
    if scan is None or scan.host_id != host_id:
        raise NotFound("scan")
    if scan.status != "completed":
        raise BadRequest(f"scan {scan_id} is {scan.status}; only completed scans can be compared")
    return scan


async def changed_checks(session: AsyncSession, pair: ScanPair) -> list[dict]:
    """The checks whose status differs between the two scans, with both actual values, in the later scan's
    template order. Checks are matched by rule id, so scans of two versions of a template compare; a check in only
    one of the scans counts as changed."""
    rows = await session.execute(text("""
        SELECT coalesce(a.check_id, b.check_id) AS check_id, coalesce(a.rule_id, b.rule_id) AS rule_id,
               c.title, c.severity, b.status AS from_status, a.status AS to_status,
               b.actual AS from_actual, a.actual AS to_actual
        FROM (SELECT * FROM scan_check_results WHERE scan_id = :after) a
        FULL JOIN (SELECT * FROM scan_check_results WHERE scan_id = :before) b ON b.rule_id = a.rule_id
        LEFT JOIN compliance_checks c ON c.id = coalesce(a.check_id, b.check_id)
        WHERE a.status IS DISTINCT FROM b.status
        ORDER BY a.position NULLS LAST, b.position, coalesce(a.rule_id, b.rule_id)
    """), {"after": pair.after.id, "before": pair.before.id})
    return [dict(row._mapping) for row in rows]
