"""Builders for monitoring tests: small templates, completed-scan history, and scans run through real recording."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import (
    AgentJob,
    ComplianceCheck,
    CompliancePolicy,
    ComplianceScan,
    ComplianceTemplate,
    HostPolicyStatus,
    Organization,
)
from services.scan_recording import ScoredScan
from services.scans import record_batch


@dataclass
class Template:
    template: ComplianceTemplate
    critical: list[ComplianceCheck]
    medium: list[ComplianceCheck]


async def make_template(db: AsyncSession, org: Organization, *, framework: str = "CIS", name: str = "Baseline",
                        os_type: str = "linux", checks: int = 40, critical: int = 2) -> Template:
    template = ComplianceTemplate(org_id=org.id, name=name, os_type=os_type, framework=framework, version=3,
                                  status="published", is_system=False, lineage_id=uuid.uuid4())
    db.add(template)
    await db.flush()
    rows = [ComplianceCheck(template_id=template.id, rule_id=f"R{i:03d}", title=f"Check {i:03d}",
                            severity="critical" if i < critical else "medium", rule={"type": "file_exists",
                                                                                     "path": "/etc/x"},
                            position=i)
            for i in range(checks)]
    db.add_all(rows)
    await db.flush()
    return Template(template, rows[:critical], rows[critical:])


async def make_policy(db: AsyncSession, org: Organization, template: Template, os_type: str = "linux",
                      name: str | None = None) -> CompliancePolicy:
    policy = CompliancePolicy(org_id=org.id, os_type=os_type, template_id=template.template.id, name=name)
    db.add(policy)
    await db.flush()
    return policy


async def past_scan(db: AsyncSession, policy: CompliancePolicy, host_id: uuid.UUID, template: Template,
                    score: float | None, at: datetime) -> ComplianceScan:
    """A completed scan in the history, as the recording would have left it (without check results)."""
    scan = ComplianceScan(org_id=policy.org_id, host_id=host_id, policy_id=policy.id,
                          template_id=template.template.id, template_version=template.template.version,
                          scan_type="scheduled", status="completed", score=score, total=10, passed=0,
                          started_at=at, completed_at=at)
    db.add(scan)
    await db.flush()
    return scan


def statuses(template: Template, passed: int, failed: int, critical_failed: int) -> dict[uuid.UUID, str]:
    """Medium checks pass then fail as asked, critical checks fail as asked; everything else is skipped."""
    assert passed + failed <= len(template.medium) and critical_failed <= len(template.critical)
    result = {c.id: "skip" for c in template.critical + template.medium}
    for check in template.medium[:passed]:
        result[check.id] = "pass"
    for check in template.medium[passed:passed + failed]:
        result[check.id] = "fail"
    for check in template.critical[:critical_failed]:
        result[check.id] = "fail"
    return result


async def open_scan(sessionmaker: async_sessionmaker, policy: CompliancePolicy, host_id: uuid.UUID,
                    template: Template, *, passed: int, failed: int = 0, critical_failed: int = 0,
                    at: datetime | None = None, actual: dict[uuid.UUID, str] | None = None) -> uuid.UUID:
    """A running scan whose agent job has completed with the given outcomes at `at`."""
    outcome = statuses(template, passed, failed, critical_failed)
    async with sessionmaker() as db, db.begin():
        scan = ComplianceScan(org_id=policy.org_id, host_id=host_id, policy_id=policy.id,
                              template_id=template.template.id, template_version=template.template.version,
                              scan_type="on_demand", status="running", started_at=at)
        db.add(scan)
        await db.flush()
        db.add(AgentJob(org_id=policy.org_id, host_id=host_id, kind="compliance_check", scan_id=scan.id,
                        payload={"scan_id": str(scan.id)}, status="completed", completed_at=at or datetime.now(UTC),
                        result={"results": [{"check_id": str(c), "status": s, "actual": (actual or {}).get(c, "seen")}
                                            for c, s in outcome.items()]}))
        return scan.id


async def record(sessionmaker: async_sessionmaker, scan_ids: list[uuid.UUID]) -> list[ScoredScan]:
    """The real recording path: score, store, then the post-scan hooks, in one transaction."""
    async with sessionmaker() as db, db.begin():
        batch = await record_batch(db, scan_ids, [], datetime.now(UTC))
    return batch.scored


async def run_scan(sessionmaker: async_sessionmaker, policy: CompliancePolicy, host_id: uuid.UUID,
                   template: Template, **outcomes) -> ScoredScan:
    scan_id = await open_scan(sessionmaker, policy, host_id, template, **outcomes)
    (scored,) = await record(sessionmaker, [scan_id])
    return scored


async def latest_status(db: AsyncSession, host_id: uuid.UUID, policy_id: uuid.UUID) -> HostPolicyStatus | None:
    return await db.get(HostPolicyStatus, (host_id, policy_id))
