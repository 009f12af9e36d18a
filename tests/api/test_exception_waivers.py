"""Exceptions requested and decided over HTTP, applied by the real recording path to finished scans."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select

from domain.scoring import round_points
from models import (
    AgentJob,
    ComplianceCheck,
    ComplianceException,
    CompliancePolicy,
    ComplianceScan,
    HostGroup,
    HostGroupMember,
    ScanCheckResult,
)
from services.scan_recording import record_completed_scans
from tests.api.test_exceptions import EXCEPTIONS, approved_exception, make_team, request_exception
from tests.factories import make_host
from tests.stack import system_template_id


class Fleet:
    """One linux policy on the system CIS Level 1 template; scans whose agent answered as told."""

    def __init__(self, db, sessionmaker, org, policy: CompliancePolicy, checks: list[ComplianceCheck]):
        self.db, self.sessionmaker, self.org, self.policy, self.checks = db, sessionmaker, org, policy, checks

    @classmethod
    async def create(cls, db, sessionmaker, org) -> Fleet:
        template_id = await system_template_id(db)
        policy = CompliancePolicy(org_id=org.id, os_type="linux", template_id=template_id)
        db.add(policy)
        await db.commit()
        checks = (await db.scalars(select(ComplianceCheck).where(
            ComplianceCheck.template_id == template_id, ComplianceCheck.enabled).order_by(ComplianceCheck.rule_id)
        )).all()
        return cls(db, sessionmaker, org, policy, list(checks))

    def rule(self, n: int) -> str:
        return self.checks[n].rule_id

    async def scan(self, host, statuses: dict[int, str]) -> uuid.UUID:
        """Record a scan of `host` in which check n answered statuses[n] and every other check passed."""
        scan = ComplianceScan(org_id=self.org.id, host_id=host.id, policy_id=self.policy.id,
                              template_id=self.policy.template_id, template_version=1, scan_type="on_demand",
                              status="running")
        self.db.add(scan)
        await self.db.flush()
        results = [{"check_id": str(c.id), "status": statuses.get(n, "pass"), "actual": "seen"}
                   for n, c in enumerate(self.checks)]
        self.db.add(AgentJob(org_id=self.org.id, host_id=host.id, kind="compliance_check", scan_id=scan.id,
                             payload={"scan_id": str(scan.id)}, status="completed", result={"results": results},
                             completed_at=datetime.now(UTC)))
        await self.db.commit()
        async with self.sessionmaker() as session, session.begin():
            scored, _ = await record_completed_scans(session, [scan.id], datetime.now(UTC))
        assert [s.scan_id for s in scored] == [scan.id]
        return scan.id

    async def outcomes(self, scan_id: uuid.UUID) -> dict[str, tuple[str, uuid.UUID | None]]:
        rows = await self.db.execute(select(ScanCheckResult.rule_id, ScanCheckResult.status,
                                            ScanCheckResult.exception_id).where(ScanCheckResult.scan_id == scan_id))
        return {rule: (status, exception_id) for rule, status, exception_id in rows}

    async def waived(self, scan_id: uuid.UUID) -> dict[str, str]:
        """rule id → exception id of every waived check."""
        return {rule: str(exc) for rule, (status, exc) in (await self.outcomes(scan_id)).items() if status == "waived"}


async def fresh(db, scan_id: uuid.UUID) -> ComplianceScan:
    return await db.get(ComplianceScan, scan_id, populate_existing=True)


async def setup(client, db, sessionmaker):
    team = await make_team(client, db)
    return team, await Fleet.create(db, sessionmaker, team.org)


async def test_pending_rejected_expired_and_revoked_exceptions_waive_nothing(client, db, sessionmaker):
    team, fleet = await setup(client, db, sessionmaker)
    host = await make_host(db, team.org)
    await db.commit()
    await request_exception(client, team, rule_id=fleet.rule(0))
    rejected = await request_exception(client, team, rule_id=fleet.rule(1))
    assert (await client.post(f"{EXCEPTIONS}/{rejected['id']}/reject", headers=team.approver_headers)).is_success
    revoked = await approved_exception(client, team, rule_id=fleet.rule(2))
    assert (await client.delete(f"{EXCEPTIONS}/{revoked['id']}", headers=team.requester_headers)).is_success
    expired = await approved_exception(client, team, rule_id=fleet.rule(3))
    overdue = await approved_exception(client, team, rule_id=fleet.rule(4))
    await db.execute(ComplianceException.__table__.update().where(ComplianceException.id == uuid.UUID(expired["id"]))
                     .values(status="expired", expires_at=datetime.now(UTC) - timedelta(days=1)))
    # Still marked active but past its expiry (the timer has not fired yet): no longer a waiver either.
    await db.execute(ComplianceException.__table__.update().where(ComplianceException.id == uuid.UUID(overdue["id"]))
                     .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    await db.commit()

    scan_id = await fleet.scan(host, {n: "fail" for n in range(5)})
    outcomes = await fleet.outcomes(scan_id)
    assert [outcomes[fleet.rule(n)] for n in range(5)] == [("fail", None)] * 5
    scan = await fresh(db, scan_id)
    assert (scan.failed, scan.waived) == (5, 0)


async def test_host_group_and_org_scopes_each_waive_exactly_their_failures(client, db, sessionmaker):
    team, fleet = await setup(client, db, sessionmaker)
    member, outsider = await make_host(db, team.org), await make_host(db, team.org)
    group = HostGroup(org_id=team.org.id, name="payments")
    db.add(group)
    await db.flush()
    db.add(HostGroupMember(group_id=group.id, host_id=member.id))
    await db.commit()
    on_host = await approved_exception(client, team, rule_id=fleet.rule(0), host_id=member.id)
    on_group = await approved_exception(client, team, rule_id=fleet.rule(1), host_group_id=group.id)
    org_wide = await approved_exception(client, team, rule_id=fleet.rule(2))
    failing = {n: "fail" for n in range(4)}

    member_scan = await fleet.scan(member, failing)
    assert await fleet.waived(member_scan) == {
        fleet.rule(0): on_host["id"], fleet.rule(1): on_group["id"], fleet.rule(2): org_wide["id"]}
    assert (await fleet.outcomes(member_scan))[fleet.rule(3)] == ("fail", None)

    outsider_scan = await fleet.scan(outsider, failing)
    assert await fleet.waived(outsider_scan) == {fleet.rule(2): org_wide["id"]}

    # Group scope follows membership at the moment of the scan.
    db.add(HostGroupMember(group_id=group.id, host_id=outsider.id))
    await db.execute(delete(HostGroupMember).where(HostGroupMember.host_id == member.id))
    await db.commit()
    assert await fleet.waived(await fleet.scan(outsider, failing)) == {
        fleet.rule(1): on_group["id"], fleet.rule(2): org_wide["id"]}
    assert await fleet.waived(await fleet.scan(member, failing)) == {
        fleet.rule(0): on_host["id"], fleet.rule(2): org_wide["id"]}


async def test_another_orgs_exceptions_never_waive(client, db, sessionmaker):
    team, fleet = await setup(client, db, sessionmaker)
    host = await make_host(db, team.org)
    await db.commit()
    await approved_exception(client, await make_team(client, db), rule_id=fleet.rule(0))
    scan_id = await fleet.scan(host, {0: "fail"})
    assert await fleet.waived(scan_id) == {}


async def test_passes_errors_and_skips_are_never_waived(client, db, sessionmaker):
    team, fleet = await setup(client, db, sessionmaker)
    host = await make_host(db, team.org)
    await db.commit()
    for n in range(3):
        await approved_exception(client, team, rule_id=fleet.rule(n), host_id=host.id)
    scan_id = await fleet.scan(host, {0: "pass", 1: "error", 2: "skip"})
    outcomes = await fleet.outcomes(scan_id)
    assert [outcomes[fleet.rule(n)] for n in range(3)] == [("pass", None), ("error", None), ("skip", None)]


async def test_score_leaves_waived_checks_out_of_the_denominator(client, db, sessionmaker):
    team, fleet = await setup(client, db, sessionmaker)
    host = await make_host(db, team.org)
    await db.commit()
    statuses = {0: "fail", 1: "fail", 2: "fail", 3: "error", 4: "skip"}
    total = len(fleet.checks)
    before = await fresh(db, await fleet.scan(host, statuses))
    assert float(before.score) == round_points((total - 5) * 100 / (total - 2))

    for n in (0, 1):
        await approved_exception(client, team, rule_id=fleet.rule(n))
    after = await fresh(db, await fleet.scan(host, statuses))
    assert (after.total, after.passed, after.failed, after.errors, after.skipped, after.waived) == (
        total, total - 5, 1, 1, 1, 2)
    assert float(after.score) == round_points((total - 5) * 100 / (total - 1 - 1 - 2))

    await approved_exception(client, team, rule_id=fleet.rule(2), host_id=host.id)
    all_waived = await fresh(db, await fleet.scan(host, statuses))
    assert all_waived.waived == 3 and float(all_waived.score) == 100.0
