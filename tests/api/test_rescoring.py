"""An exception that becomes active, is revoked or expires rescored its hosts at once; past scans keep their
results."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from activities.exceptions import ExceptionActivities
from models import CheckState, ComplianceException, ComplianceScan, HostGroup, HostGroupMember
from orchestration.types import ExpireExceptionInput
from tests.api.test_exceptions import EXCEPTIONS, make_team
from tests.factories import make_host
from tests.scan_builders import latest_status, make_policy, make_template, run_scan


async def scanned(client, db, sessionmaker):
    """Two hosts scanned 6 pass / 4 fail (score 60) on a ten-check template; R006 is the first failing rule."""
    team = await make_team(client, db)
    template = await make_template(db, team.org, checks=10, critical=0)
    policy = await make_policy(db, team.org, template)
    web, db_host = await make_host(db, team.org, hostname="web"), await make_host(db, team.org, hostname="db")
    await db.commit()
    scans = {h.id: await run_scan(sessionmaker, policy, h.id, template, passed=6, failed=4) for h in (web, db_host)}
    return team, template, policy, web, db_host, scans


async def exception(client, team, decide: bool = True, **scope) -> dict:
    body = {"org_id": str(team.org.id), "rule_id": "R006", "reason": "compensating control"} | {
        k: str(v) for k, v in scope.items()}
    created = (await client.post(EXCEPTIONS, json=body, headers=team.requester_headers)).json()
    if decide:
        approved = await client.post(f"{EXCEPTIONS}/{created['id']}/approve", json={},
                                     headers=team.approver_headers)
        assert approved.status_code == 200, approved.text
        return approved.json()
    return created


async def current(client, team, host) -> dict:
    (entry,) = (await client.get(f"/api/v1/compliance/hosts/{host.id}", headers=team.requester_headers)).json()
    return entry


async def state_of(db, host, policy, check) -> tuple[str, uuid.UUID | None]:
    row = await db.get(CheckState, (host.id, policy.id, check.id), populate_existing=True)
    return row.status, row.exception_id


async def test_approving_and_revoking_an_exception_rescore_the_host_at_once(client, db, sessionmaker):
    team, template, policy, web, other, scans = await scanned(client, db, sessionmaker)
    check = template.medium[6]
    waiver = await exception(client, team, host_id=web.id)

    status = await latest_status(db, web.id, policy.id)
    await db.refresh(status)
    assert (status.score, status.failed, status.waived) == (66.67, 3, 1)
    assert await state_of(db, web, policy, check) == ("waived", uuid.UUID(waiver["id"]))
    assert (await current(client, team, web))["current"]["score"] == 66.67
    # The scan itself keeps the result it had; the other host is not covered.
    assert (await current(client, team, web))["scan"]["score"] == 60.0
    scan = await db.get(ComplianceScan, scans[web.id].scan_id, populate_existing=True)
    assert (scan.score, scan.waived) == (60.0, 0)
    assert (await current(client, team, other))["current"]["score"] == 60.0

    dashboard = (await client.get("/api/v1/compliance/dashboard", headers=team.requester_headers)).json()
    assert dashboard["average_score"] == 63.34  # (66.67 + 60) / 2, rounded half up
    report = (await client.get("/api/v1/compliance/report", headers=team.requester_headers)).json()
    assert {h["hostname"]: (h["score"], h["waived"]) for h in report["hosts"]} == {
        "web": (66.67, 1), "db": (60.0, 0)}
    csv = (await client.get("/api/v1/compliance/export.csv", headers=team.requester_headers)).text
    assert sum(1 for line in csv.splitlines() if ",R006," in line and ",waived," in line) == 1

    revoked = await client.delete(f"{EXCEPTIONS}/{waiver['id']}", headers=team.approver_headers)
    assert revoked.status_code in (200, 204), revoked.text
    assert (await current(client, team, web))["current"] == (await current(client, team, other))["current"]
    assert await state_of(db, web, policy, check) == ("fail", None)


async def test_an_org_wide_exception_waives_every_host_and_a_host_one_takes_precedence(client, db, sessionmaker):
    team, template, policy, web, other, _ = await scanned(client, db, sessionmaker)
    check = template.medium[6]
    org_wide = await exception(client, team)
    assert {(await current(client, team, h))["current"]["waived"] for h in (web, other)} == {1}
    specific = await exception(client, team, host_id=web.id)
    assert await state_of(db, web, policy, check) == ("waived", uuid.UUID(specific["id"]))
    assert await state_of(db, other, policy, check) == ("waived", uuid.UUID(org_wide["id"]))

    await client.delete(f"{EXCEPTIONS}/{specific['id']}", headers=team.approver_headers)
    assert await state_of(db, web, policy, check) == ("waived", uuid.UUID(org_wide["id"]))
    await client.delete(f"{EXCEPTIONS}/{org_wide['id']}", headers=team.approver_headers)
    assert {(await current(client, team, h))["current"]["score"] for h in (web, other)} == {60.0}


async def test_a_group_exception_covers_only_the_groups_members(client, db, sessionmaker):
    team, template, policy, web, other, _ = await scanned(client, db, sessionmaker)
    group = HostGroup(org_id=team.org.id, name="frontends")
    db.add(group)
    await db.flush()
    db.add(HostGroupMember(group_id=group.id, host_id=web.id))
    await db.commit()
    await exception(client, team, host_group_id=group.id)
    assert (await current(client, team, web))["current"]["waived"] == 1
    assert (await current(client, team, other))["current"]["waived"] == 0


async def test_a_pending_or_rejected_exception_changes_no_score(client, db, sessionmaker):
    team, _, _, web, _, _ = await scanned(client, db, sessionmaker)
    pending = await exception(client, team, decide=False, host_id=web.id)
    assert (await current(client, team, web))["current"]["score"] == 60.0
    rejected = await client.post(f"{EXCEPTIONS}/{pending['id']}/reject", json={"reason": "no"},
                                 headers=team.approver_headers)
    assert (await current(client, team, web))["current"]["score"] == 60.0
    body = rejected.json()
    assert (body["status"], body["rejected_by"], body["rejected_by_name"], body["approved_by"]) == (
        "rejected", str(team.approver.id), team.approver.username, None)
    assert body["decided_at"] is not None and body["decision_reason"] == "no"


async def test_an_expired_exception_rescored_by_its_timer_activity(client, db, sessionmaker):
    team, template, policy, web, _, _ = await scanned(client, db, sessionmaker)
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    waiver = await exception(client, team, host_id=web.id, expires_at=tomorrow)
    assert waiver["decided_at"] is not None
    assert (await current(client, team, web))["current"]["score"] == 66.67
    past = datetime.now(UTC) - timedelta(seconds=1)
    await db.execute(update(ComplianceException).where(ComplianceException.id == uuid.UUID(waiver["id"]))
                     .values(expires_at=past))
    await db.commit()

    outcome = await ExceptionActivities(sessionmaker).expire_exception(
        ExpireExceptionInput(exception_id=waiver["id"], as_of=datetime.now(UTC).isoformat()))
    assert outcome.expired
    assert (await current(client, team, web))["current"]["score"] == 60.0
    assert await state_of(db, web, policy, template.medium[6]) == ("fail", None)


async def test_the_cycles_sweep_rescored_what_overdue_exceptions_covered(client, db, sessionmaker):
    team, _, _, web, other, _ = await scanned(client, db, sessionmaker)
    waiver = await exception(client, team)
    await db.execute(update(ComplianceException).where(ComplianceException.id == uuid.UUID(waiver["id"]))
                     .values(expires_at=datetime.now(UTC) - timedelta(minutes=1)))
    await db.commit()
    assert (await ExceptionActivities(sessionmaker).expire_overdue_exceptions()).expired == 1
    assert {(await current(client, team, h))["current"]["waived"] for h in (web, other)} == {0}
