"""Remediations and their change records: planning from recorded failures, approval, and the safety net's queries.

Shared by the API (one-click fix, decisions) and the remediation activities."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain import remediation as rules
from domain.errors import BadRequest, Conflict, Forbidden, NotFound
from domain.remediation import FailedCheck, PolicyGates, plan_remediations
from models import (
    AutomationWorkflow,
    ChangeRecord,
    ComplianceCheck,
    CompliancePolicy,
    ComplianceScan,
    Host,
    Remediation,
    ScanCheckResult,
    Script,
)
from orchestration import ids
from orchestration.types import RemediationStart
from services.scan_recording import CheckInfo, ScoredScan

OUTPUT_LIMIT = 4096
SELF_DECISION = "a change must be decided by someone other than its requester"


def truncate(output: str | None, limit: int = OUTPUT_LIMIT) -> str:
    """At most `limit` bytes of UTF-8, cut on a character boundary."""
    return (output or "").encode()[:limit].decode("utf-8", "ignore")


def as_uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


@dataclass
class RemediationContext:
    remediation: Remediation
    check: ComplianceCheck
    policy: CompliancePolicy
    host: Host


async def load_context(
    session: AsyncSession, remediation_id: uuid.UUID, *, lock: bool = False
) -> RemediationContext | None:
    stmt = (select(Remediation, ComplianceCheck, CompliancePolicy, Host)
            .join(ComplianceCheck, ComplianceCheck.id == Remediation.check_id)
            .join(CompliancePolicy, CompliancePolicy.id == Remediation.policy_id)
            .join(Host, Host.id == Remediation.host_id)
            .where(Remediation.id == remediation_id))
    row = (await session.execute(stmt.with_for_update(of=Remediation) if lock else stmt)).first()
    return RemediationContext(*row) if row else None


def needs_approval(policy: CompliancePolicy, check: ComplianceCheck) -> bool:
    return rules.needs_approval(policy.approval_mode, check.remediation_requires_change)


async def fix_description(session: AsyncSession, check: ComplianceCheck) -> dict:
    """What would run: the script itself, or the workflow with each step's script."""
    if check.remediation_type == "script" and check.script_id is not None:
        script = await session.get(Script, check.script_id)
        if script is not None:
            return {"type": "script", "script": script_summary(script)}
    if check.remediation_type == "workflow" and check.workflow_id is not None:
        workflow = await session.get(AutomationWorkflow, check.workflow_id)
        if workflow is not None:
            ids = [as_uuid(s.get("script_id")) for s in workflow.steps]
            found = await session.scalars(select(Script).where(Script.id.in_([i for i in ids if i])))
            scripts = {s.id: s for s in found}
            return {"type": "workflow", "workflow": {"id": str(workflow.id), "name": workflow.name, "steps": [
                {"continue_on_failure": bool(step.get("continue_on_failure")),
                 "script": script_summary(scripts[i]) if i in scripts else {"id": step.get("script_id")}}
                for step, i in zip(workflow.steps, ids, strict=True)]}}
    return {"type": check.remediation_type}


def script_summary(script: Script) -> dict:
    return {"id": str(script.id), "name": script.name, "shell": script.shell, "sha256": script.sha256,
            "timeout_seconds": script.timeout_seconds, "body": script.body}


async def ensure_change_record(session: AsyncSession, ctx: RemediationContext) -> ChangeRecord:
    """The change record of a remediation that needs approval, created `pending_approval` once (idempotent)."""
    rem, check, policy, host = ctx.remediation, ctx.check, ctx.policy, ctx.host
    actual = await session.scalar(select(ScanCheckResult.actual).where(
        ScanCheckResult.scan_id == rem.scan_id, ScanCheckResult.check_id == rem.check_id))
    details = {
        "what": {"check_id": str(check.id), "rule_id": check.rule_id, "title": check.title,
                 "severity": check.severity, "fix": await fix_description(session, check)},
        "where": {"host_id": str(host.id), "hostname": host.hostname, "os_type": host.os_type,
                  "policy_id": str(policy.id)},
        "why": {"scan_id": str(rem.scan_id), "status": "fail", "actual": actual, "trigger": rem.trigger,
                "approval_required_because": rules.approval_grounds(policy.approval_mode,
                                                                       check.remediation_requires_change)},
    }
    await session.execute(insert(ChangeRecord).values(
        id=uuid.uuid4(), org_id=rem.org_id, host_id=rem.host_id, scan_id=rem.scan_id, check_id=rem.check_id,
        remediation_id=rem.id, status="pending_approval", requested_by=rem.requested_by,
        title=f"Remediate {check.rule_id} ({check.title}) on {host.hostname}"[:500], details=details,
    ).on_conflict_do_nothing(index_elements=["remediation_id"]))
    return await session.scalar(select(ChangeRecord).where(ChangeRecord.remediation_id == rem.id)
                                .execution_options(populate_existing=True))


def approved_script(change: ChangeRecord, script_id: str) -> dict | None:
    """The script as the change record showed it when it was approved: what runs, whatever happened to the script
    since. None when the record shows no such script."""
    fix = (change.details or {}).get("what", {}).get("fix", {})
    shown = [fix.get("script")] + [step.get("script") for step in fix.get("workflow", {}).get("steps", [])]
    return next((script for script in shown if script and script.get("id") == script_id and script.get("body")),
                None)


def script_payload(shell: str, body: str, timeout_seconds: int) -> dict:
    """A script as an agent job carries it; the agent refuses a body whose SHA-256 differs."""
    return {"shell": shell, "body": body, "sha256": hashlib.sha256(body.encode()).hexdigest(),
            "timeout_seconds": timeout_seconds}


async def change_of(session: AsyncSession, remediation_id: uuid.UUID, *, lock: bool = False) -> ChangeRecord | None:
    stmt = select(ChangeRecord).where(ChangeRecord.remediation_id == remediation_id).execution_options(
        populate_existing=True)
    return await session.scalar(stmt.with_for_update() if lock else stmt)


async def request_fix(session: AsyncSession, scan: ComplianceScan, check_id: uuid.UUID,
                      requester: uuid.UUID) -> tuple[Remediation, ChangeRecord | None]:
    """A one-click fix of a check that failed in this scan: a manual remediation (it ignores the kill switch) with
    a change record when the policy or the check asks for one. A remediation held back by the kill switch is
    re-armed as this one; any other remediation of the same scan and check is a conflict (its id in the detail)."""
    result = await session.get(ScanCheckResult, (scan.id, check_id))
    check = await session.get(ComplianceCheck, check_id)
    if result is None or check is None:
        raise NotFound("check result")
    if check.remediation_type not in rules.AUTOMATIC_REMEDIATION_TYPES:
        raise BadRequest(f"check {check.rule_id} has no automated fix (remediation_type {check.remediation_type})")
    if result.status != "fail":
        raise Conflict(f"check {check.rule_id} did not fail in this scan (status {result.status})")
    remediation = await session.scalar(select(Remediation).where(
        Remediation.scan_id == scan.id, Remediation.check_id == check_id).with_for_update())
    if remediation is not None and not (remediation.status == "skipped" and remediation.outcome is None):
        raise Conflict({"message": f"a remediation of this check already exists ({remediation.status})",
                        "remediation_id": str(remediation.id)})
    if remediation is None:
        remediation = Remediation(org_id=scan.org_id, host_id=scan.host_id, policy_id=scan.policy_id,
                                  scan_id=scan.id, check_id=check.id, rule_id=check.rule_id,
                                  workflow_id=ids.remediation(scan.id, check.id))
        session.add(remediation)
    remediation.trigger, remediation.status, remediation.reason = "manual", "planned", None
    remediation.requested_by = requester
    await session.flush()
    ctx = await load_context(session, remediation.id)
    change = None
    if needs_approval(ctx.policy, check):
        change = await ensure_change_record(session, ctx)
        remediation.status = "pending_approval"
    return remediation, change


async def decide_change(session: AsyncSession, change: ChangeRecord, decider: uuid.UUID, approved: bool,
                        reason: str | None, now: datetime) -> str:
    """Record a decision on a change pending approval, by someone other than its requester; returns the
    workflow id of the remediation to tell."""
    if not rules.may_decide(change.requested_by, decider):
        raise Forbidden(SELF_DECISION)
    if change.status != "pending_approval":
        raise Conflict(f"the change is {change.status}; only a change pending approval can be decided")
    change.status, change.reason = "approved" if approved else "rejected", reason
    change.decided_by, change.decided_at = decider, now
    await session.flush()
    if change.deployment_id is not None:
        return ids.patch_deployment(change.deployment_id)
    return await session.scalar(select(Remediation.workflow_id).where(
        Remediation.id == change.remediation_id)) or ids.remediation(change.scan_id, change.check_id)


def scan_entry(rem: Remediation, change: ChangeRecord | None) -> dict:
    """How a remediation appears on its scan's check result."""
    entry = {"remediation_id": str(rem.id), "status": rem.status, "trigger": rem.trigger, "reason": rem.reason,
             "change_id": str(change.id) if change else None, "change_status": change.status if change else None,
             "verify_scan_id": str(rem.verify_scan_id) if rem.verify_scan_id else None}
    if rem.outcome:
        entry |= {k: rem.outcome.get(k) for k in ("exit_code", "output", "steps")}
        entry["result"] = rem.outcome.get("status")
    return entry


async def scan_remediations(session: AsyncSession, scan_id: uuid.UUID) -> dict[str, dict]:
    """The remediations of a scan's checks as they stand now, by check id (read at query time, so the scan never
    holds a stale copy)."""
    rows = await session.execute(
        select(Remediation, ChangeRecord).outerjoin(ChangeRecord, ChangeRecord.remediation_id == Remediation.id)
        .where(Remediation.scan_id == scan_id))
    return {str(rem.check_id): scan_entry(rem, change) for rem, change in rows}


async def decided_but_waiting(session: AsyncSession, older_than: datetime, limit: int) -> list:
    """Change records decided by the API whose remediation still waits for approval: their signal was lost."""
    return (await session.execute(
        select(ChangeRecord, Remediation)
        .join(Remediation, Remediation.id == ChangeRecord.remediation_id)
        .where(ChangeRecord.status.in_(("approved", "rejected")), Remediation.status == "pending_approval",
               ChangeRecord.decided_at < older_than)
        .order_by(ChangeRecord.decided_at).limit(limit)
    )).all()


async def never_started(session: AsyncSession, older_than: datetime, limit: int) -> list[Remediation]:
    """Remediations planned long enough ago that their workflow should be running, but that never began."""
    return list(await session.scalars(
        select(Remediation).where(Remediation.status == "planned", Remediation.created_at < older_than)
        .order_by(Remediation.created_at).limit(limit)))


def start_of(rem: Remediation) -> RemediationStart:
    return RemediationStart(remediation_id=str(rem.id), scan_id=str(rem.scan_id), check_id=str(rem.check_id),
                            org_id=str(rem.org_id), host_id=str(rem.host_id), policy_id=str(rem.policy_id))


async def _gates(session: AsyncSession, scored: list[ScoredScan]) -> tuple[dict, dict]:
    rows = await session.execute(text("""
        SELECT p.id, p.approval_mode, p.auto_remediate_critical, p.auto_remediate_high, p.auto_remediate_medium,
               p.auto_remediate_low, o.id, o.automation_paused
        FROM compliance_policies p JOIN organizations o ON o.id = p.org_id
        WHERE p.id = ANY(:ids)
    """), {"ids": list({s.policy_id for s in scored})})
    gates, paused = {}, {}
    for policy_id, *flags, org_id, automation_paused in rows:
        gates[policy_id], paused[org_id] = PolicyGates(*flags), automation_paused
    return gates, paused


async def plan_scan_remediations(
    session: AsyncSession, scored: list[ScoredScan], checks: dict[uuid.UUID, list[CheckInfo]], now: datetime
) -> list[RemediationStart]:
    """Insert this batch's remediations in one statement and return every one still waiting to be started.

    Held back by the kill switch, a remediation is stored `skipped` / `automation_paused` and never started.
    Verify scans plan nothing (fix → verify → fix would loop), so they store nothing either. Unique
    (scan_id, check_id) makes a retried recording a no-op, and returning all `planned` rows of these scans
    lets a retried activity still start the ones an earlier attempt created.
    """
    # Only a failed check with an automated fix can become a remediation (and so have become one in an earlier
    # attempt): a batch whose templates have none plans nothing and asks nothing.
    fixable = {template_id for template_id, template_checks in checks.items()
               if any(c.remediation_type in rules.AUTOMATIC_REMEDIATION_TYPES for c in template_checks)}
    candidates = [s for s in scored if s.scan_type != "verify" and s.counts.get("failed") and s.template_id in fixable]
    if not candidates:
        return []
    gates, paused = await _gates(session, candidates)
    # Only checks with an automated fix whose severity gate is on can become remediations: per template and
    # policy, their positions are found once, and a scan looks at its outcomes there alone.
    remediable: dict[tuple[uuid.UUID, uuid.UUID], list[tuple[int, FailedCheck]]] = {}
    rows: dict[str, list] = {k: [] for k in ("scan", "check", "org", "host", "policy", "rule", "status", "reason",
                                             "workflow")}
    for scan in candidates:
        policy_gates = gates.get(scan.policy_id)
        if policy_gates is None:
            continue
        shape = (scan.template_id, scan.policy_id)
        if shape not in remediable:
            remediable[shape] = [
                (n, FailedCheck(c.id, c.rule_id, c.severity, c.remediation_type, c.requires_change))
                for n, c in enumerate(checks.get(scan.template_id, []))
                if c.remediation_type in rules.AUTOMATIC_REMEDIATION_TYPES and policy_gates.allows(c.severity)]
        failed = [check for n, check in remediable[shape] if scan.statuses[n] == "fail"]
        if not failed:
            continue
        planned, skipped = plan_remediations(failed, policy_gates, bool(paused.get(scan.org_id)), scan.scan_type,
                                             frozenset())
        decided = [(p.check_id, "planned", None) for p in planned]
        decided += [(s.check_id, "skipped", s.reason) for s in skipped if s.reason == "automation_paused"]
        rule_ids = {check.check_id: check.rule_id for check in failed}
        for check_id, status, reason in decided:
            for key, value in (("scan", scan.scan_id), ("check", check_id), ("org", scan.org_id),
                               ("host", scan.host_id), ("policy", scan.policy_id), ("rule", rule_ids[check_id]),
                               ("status", status), ("reason", reason),
                               ("workflow", ids.remediation(scan.scan_id, check_id))):
                rows[key].append(value)
    if not rows["scan"]:
        return []
    await session.execute(text("""
        INSERT INTO remediations (id, org_id, host_id, policy_id, scan_id, check_id, rule_id, trigger, status, reason,
                                  workflow_id, created_at, updated_at)
        SELECT gen_random_uuid(), n.org, n.host, n.policy, n.scan, n.chk, n.rule, 'automatic', n.status, n.reason,
               n.workflow, :now, :now
        FROM unnest(CAST(:org AS uuid[]), CAST(:host AS uuid[]), CAST(:policy AS uuid[]), CAST(:scan AS uuid[]),
                    CAST(:check AS uuid[]), CAST(:rule AS text[]), CAST(:status AS text[]), CAST(:reason AS text[]),
                    CAST(:workflow AS text[]))
             AS n(org, host, policy, scan, chk, rule, status, reason, workflow)
        ON CONFLICT (scan_id, check_id) DO NOTHING
    """), rows | {"now": now})
    waiting = await session.execute(text("""
        SELECT id, scan_id, check_id, org_id, host_id, policy_id FROM remediations
        WHERE scan_id = ANY(:scans) AND status = 'planned' AND trigger = 'automatic'
        ORDER BY scan_id, check_id
    """), {"scans": [s.scan_id for s in candidates]})
    return [start_of(r) for r in waiting]
