"""Turns recorded failures into remediations, per policy gates and the organization's kill switch."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from activities.recording import CheckInfo, ScoredScan
from domain.remediation_planning import FailedCheck, PolicyGates, plan_remediations
from workflows.types import RemediationStart


async def _gates(session: AsyncSession, scored: list[ScoredScan]) -> tuple[dict, dict]:
    policies = await session.execute(text("""
        SELECT id, approval_mode, auto_remediate_critical, auto_remediate_high, auto_remediate_medium,
               auto_remediate_low
        FROM compliance_policies WHERE id = ANY(:ids)
    """), {"ids": list({s.policy_id for s in scored})})
    paused = await session.execute(text("SELECT id, automation_paused FROM organizations WHERE id = ANY(:ids)"),
                                   {"ids": list({s.org_id for s in scored})})
    return {row[0]: PolicyGates(*row[1:]) for row in policies}, dict(paused.all())


async def plan_scan_remediations(
    session: AsyncSession, scored: list[ScoredScan], checks: dict[uuid.UUID, list[CheckInfo]], now: datetime
) -> list[RemediationStart]:
    """Insert this batch's remediations in one statement and return every one still waiting to be started.

    Held back by the kill switch, a remediation is stored `skipped` / `automation_paused` and never started.
    Verify scans plan nothing (fix → verify → fix would loop), so they store nothing either. Unique
    (scan_id, check_id) makes a retried recording a no-op, and returning all `planned` rows of these scans
    lets a retried activity still start the ones an earlier attempt created.
    """
    candidates = [s for s in scored if s.scan_type != "verify" and s.counts.get("failed")]
    if not candidates:
        return []
    gates, paused = await _gates(session, candidates)
    rows: dict[str, list] = {k: [] for k in ("scan", "check", "org", "host", "policy", "rule", "status", "reason")}
    for scan in candidates:
        policy_gates = gates.get(scan.policy_id)
        if policy_gates is None:
            continue
        info = {c.id: c for c in checks.get(scan.template_id, [])}
        failed = [FailedCheck(c.id, c.rule_id, c.severity, c.remediation_type, c.requires_change)
                  for o in scan.outcomes if o.status == "fail" and (c := info.get(o.check_id)) is not None]
        planned, skipped = plan_remediations(failed, policy_gates, bool(paused.get(scan.org_id)), scan.scan_type,
                                             frozenset())
        decided = [(p.check_id, "planned", None) for p in planned]
        decided += [(s.check_id, "skipped", s.reason) for s in skipped if s.reason == "automation_paused"]
        for check_id, status, reason in decided:
            for key, value in (("scan", scan.scan_id), ("check", check_id), ("org", scan.org_id),
                               ("host", scan.host_id), ("policy", scan.policy_id), ("rule", info[check_id].rule_id),
                               ("status", status), ("reason", reason)):
                rows[key].append(value)
    if not rows["scan"]:
        return []
    await session.execute(text("""
        INSERT INTO remediations (id, org_id, host_id, policy_id, scan_id, check_id, rule_id, trigger, status, reason,
                                  workflow_id, created_at, updated_at)
        SELECT gen_random_uuid(), n.org, n.host, n.policy, n.scan, n.chk, n.rule, 'automatic', n.status, n.reason,
               'remediation-' || n.scan || '-' || n.chk, :now, :now
        FROM unnest(CAST(:org AS uuid[]), CAST(:host AS uuid[]), CAST(:policy AS uuid[]), CAST(:scan AS uuid[]),
                    CAST(:check AS uuid[]), CAST(:rule AS text[]), CAST(:status AS text[]), CAST(:reason AS text[]))
             AS n(org, host, policy, scan, chk, rule, status, reason)
        ON CONFLICT (scan_id, check_id) DO NOTHING
    """), rows | {"now": now})
    waiting = await session.execute(text("""
        SELECT id, scan_id, check_id, org_id, host_id, policy_id FROM remediations
        WHERE scan_id = ANY(:scans) AND status = 'planned' AND trigger = 'automatic'
        ORDER BY scan_id, check_id
    """), {"scans": [s.scan_id for s in candidates]})
    return [RemediationStart(remediation_id=str(r.id), scan_id=str(r.scan_id), check_id=str(r.check_id),
                             org_id=str(r.org_id), host_id=str(r.host_id), policy_id=str(r.policy_id))
            for r in waiting]
