"""Remediations, their change records and the scan's `result_data` view of them: shared by activities and the API."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from models import (
    AutomationWorkflow,
    ChangeRecord,
    ComplianceCheck,
    CompliancePolicy,
    Host,
    Remediation,
    ScanCheckResult,
    Script,
)
from workflows.remediation_types import OUTPUT_LIMIT

FINISHED = frozenset({"rejected", "expired", "skipped", "completed", "failed"})


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
    return policy.approval_mode == "manual" or check.remediation_requires_change


def approval_grounds(policy: CompliancePolicy, check: ComplianceCheck) -> list[str]:
    grounds = []
    if policy.approval_mode == "manual":
        grounds.append("the policy's approval mode is manual")
    if check.remediation_requires_change:
        grounds.append("the check requires a change record")
    return grounds


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
                "approval_required_because": approval_grounds(policy, check)},
    }
    await session.execute(insert(ChangeRecord).values(
        id=uuid.uuid4(), org_id=rem.org_id, host_id=rem.host_id, scan_id=rem.scan_id, check_id=rem.check_id,
        remediation_id=rem.id, status="pending_approval", requested_by=rem.requested_by,
        title=f"Remediate {check.rule_id} ({check.title}) on {host.hostname}"[:500], details=details,
    ).on_conflict_do_nothing(index_elements=["remediation_id"]))
    return await session.scalar(select(ChangeRecord).where(ChangeRecord.remediation_id == rem.id)
                                .execution_options(populate_existing=True))


async def change_of(session: AsyncSession, remediation_id: uuid.UUID, *, lock: bool = False) -> ChangeRecord | None:
    stmt = select(ChangeRecord).where(ChangeRecord.remediation_id == remediation_id).execution_options(
        populate_existing=True)
    return await session.scalar(stmt.with_for_update() if lock else stmt)


async def show_on_scan(session: AsyncSession, rem: Remediation, change: ChangeRecord | None = None) -> None:
    """Mirror the remediation's state into its scan's result_data["remediations"][check_id] (one atomic update)."""
    entry = {"remediation_id": str(rem.id), "status": rem.status, "trigger": rem.trigger, "reason": rem.reason,
             "change_id": str(change.id) if change else None, "change_status": change.status if change else None,
             "verify_scan_id": str(rem.verify_scan_id) if rem.verify_scan_id else None}
    if rem.outcome:
        entry |= {k: rem.outcome.get(k) for k in ("exit_code", "output", "steps")}
        entry["result"] = rem.outcome.get("status")
    await session.execute(text("""
        UPDATE compliance_scans
        SET result_data = jsonb_set(
                coalesce(result_data, '{}'::jsonb), '{remediations}',
                coalesce(result_data -> 'remediations', '{}'::jsonb)
                    || jsonb_build_object(CAST(:check AS text), CAST(:entry AS jsonb))),
            updated_at = now()
        WHERE id = :scan
    """), {"scan": rem.scan_id, "check": str(rem.check_id), "entry": json.dumps(entry)})
