"""Exceptions over HTTP: requests, second-person decisions, changes, revocation, reads, audit and isolation."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import event, select

from models import AuditEntry, ComplianceException, HostGroup, HostGroupMember, Organization, User
from services.exceptions import SELF_APPROVAL, SELF_EXTENSION, SELF_REASON
from tests.factories import login, make_host, make_org, make_user

EXCEPTIONS = "/api/v1/compliance/exceptions"
RULE, OTHER_RULE = "1.1.1.1", "1.1.1.2"
CONTRACT_FIELDS = {"org_id", "rule_id", "host_id", "host_group_id", "reason", "expires_at", "id", "status",
                   "created_by", "approved_by", "hostname", "host_group_name"}


@dataclass
class Team:
    """Two people who may manage an organization's compliance: one requests, the other decides."""

    org: Organization
    requester: User
    approver: User
    requester_headers: dict[str, str]
    approver_headers: dict[str, str]


async def make_team(client, db, org: Organization | None = None) -> Team:
    org = org or await make_org(db)
    requester = await make_user(db, org=org, role="operator")
    approver = await make_user(db, org=org, role="operator")
    await db.commit()
    return Team(org, requester, approver, await login(client, requester.username),
                await login(client, approver.username))


def in_days(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


async def request_exception(client, team: Team, **fields) -> dict:
    body = {"org_id": str(team.org.id), "rule_id": RULE, "reason": "compensating control in place"} | {
        k: str(v) if isinstance(v, uuid.UUID) else v for k, v in fields.items()}
    response = await client.post(EXCEPTIONS, json=body, headers=team.requester_headers)
    assert response.status_code == 201, response.text
    return response.json()


async def approved_exception(client, team: Team, **fields) -> dict:
    created = await request_exception(client, team, **fields)
    response = await client.post(f"{EXCEPTIONS}/{created['id']}/approve", json={}, headers=team.approver_headers)
    assert response.status_code == 200, response.text
    return response.json()


async def audit_actions(db, exception_id: str) -> list[str]:
    return list(await db.scalars(select(AuditEntry.action).where(AuditEntry.target_id == exception_id)
                                 .order_by(AuditEntry.id)))


async def test_request_is_pending_with_the_contract_fields_and_audited(client, db):
    team = await make_team(client, db)
    host = await make_host(db, team.org, hostname="db-01")
    await db.commit()
    created = await request_exception(client, team, host_id=host.id, expires_at=in_days(30))
    assert CONTRACT_FIELDS <= set(created)
    assert created["status"] == "pending_approval" and created["created_by"] == str(team.requester.id)
    assert created["hostname"] == "db-01" and created["host_group_name"] is None
    assert created["created_by_name"] == team.requester.username
    assert created["approved_by"] is None and created["approved_at"] is None
    entry = await db.scalar(select(AuditEntry).where(AuditEntry.action == "exception.create"))
    assert entry.target_id == created["id"] and entry.actor_id == team.requester.id
    assert entry.after["status"] == "pending_approval" and entry.org_id == team.org.id


async def test_request_validation(client, db):
    team = await make_team(client, db)
    host = await make_host(db, team.org)
    group = HostGroup(org_id=team.org.id, name="dbs")
    db.add(group)
    await db.commit()
    base = {"org_id": str(team.org.id), "rule_id": RULE, "reason": "because"}
    cases = [
        base | {"host_id": str(host.id), "host_group_id": str(group.id)},
        base | {"reason": ""},
        base | {"reason": "   "},
        {k: v for k, v in base.items() if k != "reason"},
        base | {"expires_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat()},
        base | {"status": "active"},
        base | {"created_by": str(team.approver.id)},
        base | {"rule_id": "no-such-rule"},
    ]
    for body in cases:
        response = await client.post(EXCEPTIONS, json=body, headers=team.requester_headers)
        assert response.status_code == 422, (body, response.text)
    assert await db.scalar(select(ComplianceException.id)) is None


async def test_host_or_group_of_another_org_is_404(client, db):
    team = await make_team(client, db)
    other = await make_org(db)
    foreign_host = await make_host(db, other)
    foreign_group = HostGroup(org_id=other.id, name="theirs")
    db.add(foreign_group)
    await db.commit()
    base = {"org_id": str(team.org.id), "rule_id": RULE, "reason": "because"}
    for scope in ({"host_id": str(foreign_host.id)}, {"host_group_id": str(foreign_group.id)},
                  {"host_id": str(uuid.uuid4())}):
        response = await client.post(EXCEPTIONS, json=base | scope, headers=team.requester_headers)
        assert response.status_code == 404, response.text
    response = await client.post(EXCEPTIONS, json=base | {"org_id": str(other.id)}, headers=team.requester_headers)
    assert response.status_code == 404


async def test_viewers_may_read_but_not_request_or_decide(client, db):
    team = await make_team(client, db)
    viewer = await make_user(db, org=team.org, role="viewer")
    await db.commit()
    headers = await login(client, viewer.username)
    created = await request_exception(client, team)
    body = {"org_id": str(team.org.id), "rule_id": RULE, "reason": "because"}
    assert (await client.post(EXCEPTIONS, json=body, headers=headers)).status_code == 403
    for action in ("approve", "reject"):
        assert (await client.post(f"{EXCEPTIONS}/{created['id']}/{action}", headers=headers)).status_code == 403
    assert (await client.get(f"{EXCEPTIONS}/{created['id']}", headers=headers)).status_code == 200


async def test_exception_needs_a_different_approver(client, db):
    team = await make_team(client, db)
    created = await request_exception(client, team)
    for action in ("approve", "reject"):
        response = await client.post(f"{EXCEPTIONS}/{created['id']}/{action}", json={},
                                     headers=team.requester_headers)
        assert response.status_code == 403 and response.json()["detail"] == SELF_APPROVAL
    # Administrators are no exception to the four-eyes rule.
    admin = await make_user(db, is_admin=True)
    await db.commit()
    admin_headers = await login(client, admin.username)
    own = (await client.post(EXCEPTIONS, json={"org_id": str(team.org.id), "rule_id": RULE, "reason": "x"},
                             headers=admin_headers)).json()
    assert (await client.post(f"{EXCEPTIONS}/{own['id']}/approve", headers=admin_headers)).status_code == 403

    stored = await db.get(ComplianceException, uuid.UUID(created["id"]))
    assert stored.status == "pending_approval" and stored.approved_by is None


async def test_approval_by_another_manager_activates_it_once(client, db):
    team = await make_team(client, db)
    created = await request_exception(client, team)
    response = await client.post(f"{EXCEPTIONS}/{created['id']}/approve", json={"reason": "risk accepted"},
                                 headers=team.approver_headers)
    assert response.status_code == 200, response.text
    approved = response.json()
    assert approved["status"] == "active" and approved["approved_by"] == str(team.approver.id)
    assert approved["approved_by_name"] == team.approver.username and approved["approved_at"] is not None
    assert approved["decision_reason"] == "risk accepted"
    for action in ("approve", "reject"):
        again = await client.post(f"{EXCEPTIONS}/{created['id']}/{action}", headers=team.approver_headers)
        assert again.status_code == 409, again.text
    entry = await db.scalar(select(AuditEntry).where(AuditEntry.action == "exception.approve"))
    assert entry.actor_id == team.approver.id
    assert entry.before["status"] == "pending_approval" and entry.after["status"] == "active"


async def test_rejection_stores_the_reason_and_audits_it(client, db):
    team = await make_team(client, db)
    created = await request_exception(client, team)
    response = await client.post(f"{EXCEPTIONS}/{created['id']}/reject", json={"reason": "fix it instead"},
                                 headers=team.approver_headers)
    assert response.status_code == 200, response.text
    rejected = response.json()
    assert rejected["status"] == "rejected" and rejected["decision_reason"] == "fix it instead"
    assert rejected["approved_by"] is None
    entry = await db.scalar(select(AuditEntry).where(AuditEntry.action == "exception.reject"))
    assert entry.actor_id == team.approver.id and entry.after["decision_reason"] == "fix it instead"
    approve = await client.post(f"{EXCEPTIONS}/{created['id']}/approve", headers=team.approver_headers)
    assert approve.status_code == 409


async def test_pending_exception_whose_expiry_passed_cannot_be_approved(client, db):
    team = await make_team(client, db)
    created = await request_exception(client, team, expires_at=in_days(1))
    stored = await db.get(ComplianceException, uuid.UUID(created["id"]))
    stored.expires_at = datetime.now(UTC) - timedelta(minutes=1)
    await db.commit()
    response = await client.post(f"{EXCEPTIONS}/{created['id']}/approve", headers=team.approver_headers)
    assert response.status_code == 409 and "expiry" in response.json()["detail"]


async def test_update_only_while_active(client, db):
    team = await make_team(client, db)
    pending = await request_exception(client, team)
    response = await client.patch(f"{EXCEPTIONS}/{pending['id']}", json={"reason": "new"},
                                  headers=team.approver_headers)
    assert response.status_code == 409

    active = await approved_exception(client, team, rule_id=OTHER_RULE)
    url = f"{EXCEPTIONS}/{active['id']}"
    for bad in ({"reason": ""}, {"reason": None}, {"expires_at": in_days(-1)}, {"status": "active"},
                {"rule_id": RULE}):
        assert (await client.patch(url, json=bad, headers=team.requester_headers)).status_code == 422, bad
    # Security review row 15: the approved justification is not the creator's to rewrite alone.
    own = await client.patch(url, json={"reason": "vendor patch due in Q3"}, headers=team.requester_headers)
    assert own.status_code == 403 and own.json()["detail"] == SELF_REASON
    response = await client.patch(url, json={"reason": "vendor patch due in Q3"}, headers=team.approver_headers)
    assert response.status_code == 200, response.text
    assert response.json()["reason"] == "vendor patch due in Q3" and response.json()["status"] == "active"
    entry = await db.scalar(select(AuditEntry).where(AuditEntry.action == "exception.update"))
    assert entry.before["reason"] == "compensating control in place"
    assert entry.after["reason"] == "vendor patch due in Q3"

    rejected = await request_exception(client, team, rule_id=OTHER_RULE)
    await client.post(f"{EXCEPTIONS}/{rejected['id']}/reject", headers=team.approver_headers)
    response = await client.patch(f"{EXCEPTIONS}/{rejected['id']}", json={"reason": "x"},
                                  headers=team.approver_headers)
    assert response.status_code == 409


async def test_delete_revokes_and_answers_the_revoked_record(client, db):
    team = await make_team(client, db)
    active = await approved_exception(client, team)
    url = f"{EXCEPTIONS}/{active['id']}"
    response = await client.delete(url, headers=team.requester_headers)
    assert response.status_code == 200, response.text
    revoked = response.json()
    assert revoked["status"] == "revoked" and revoked["id"] == active["id"]
    assert revoked["approved_by"] == str(team.approver.id) and revoked["reason"] == active["reason"]
    assert (await client.get(url, headers=team.requester_headers)).json()["status"] == "revoked"
    assert (await client.delete(url, headers=team.requester_headers)).status_code == 409
    assert (await client.patch(url, json={"reason": "x"}, headers=team.requester_headers)).status_code == 409

    # A pending request is withdrawn the same way.
    pending = await request_exception(client, team, rule_id=OTHER_RULE)
    withdrawn = await client.delete(f"{EXCEPTIONS}/{pending['id']}", headers=team.requester_headers)
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "revoked"
    assert await audit_actions(db, active["id"]) == ["exception.create", "exception.approve", "exception.revoke"]


async def test_another_orgs_exception_is_404_everywhere(client, db):
    theirs = await make_team(client, db)
    foreign = await request_exception(client, theirs)
    ours = await make_team(client, db)
    url = f"{EXCEPTIONS}/{foreign['id']}"
    probes = [("GET", url, None), ("PATCH", url, {"reason": "x"}), ("DELETE", url, None),
              ("POST", f"{url}/approve", {}), ("POST", f"{url}/reject", {"reason": "x"}),
              ("GET", f"{EXCEPTIONS}/{uuid.uuid4()}", None)]
    for method, target, body in probes:
        response = await client.request(method, target, json=body, headers=ours.approver_headers)
        assert response.status_code == 404, (method, target, response.text)
    listed = await client.get(EXCEPTIONS, headers=ours.approver_headers)
    assert listed.json() == [] and listed.headers["X-Total-Count"] == "0"
    filtered = await client.get(EXCEPTIONS, params={"org_id": str(theirs.org.id)}, headers=ours.approver_headers)
    assert filtered.json() == []
    stored = await db.get(ComplianceException, uuid.UUID(foreign["id"]))
    assert stored.status == "pending_approval"


async def test_list_filters_pages_and_enriches_in_one_query(client, db):
    team = await make_team(client, db)
    host = await make_host(db, team.org, hostname="web-01")
    group = HostGroup(org_id=team.org.id, name="web servers")
    db.add(group)
    await db.flush()
    db.add(HostGroupMember(group_id=group.id, host_id=host.id))
    await db.commit()
    on_host = await approved_exception(client, team, host_id=host.id)
    on_group = await request_exception(client, team, host_group_id=group.id, rule_id=OTHER_RULE)
    org_wide = await request_exception(client, team, rule_id=OTHER_RULE)
    await request_exception(client, await make_team(client, db))  # another org's, never listed

    async def listed(**params) -> list[dict]:
        response = await client.get(EXCEPTIONS, params=params, headers=team.approver_headers)
        assert response.status_code == 200, response.text
        return response.json()

    everything = await listed()
    assert {e["id"] for e in everything} == {on_host["id"], on_group["id"], org_wide["id"]}
    by_id = {e["id"]: e for e in everything}
    assert by_id[on_host["id"]]["hostname"] == "web-01"
    assert by_id[on_host["id"]]["approved_by_name"] == team.approver.username
    assert by_id[on_group["id"]]["host_group_name"] == "web servers"
    assert by_id[org_wide["id"]]["hostname"] is None and by_id[org_wide["id"]]["host_group_name"] is None
    assert [e["id"] for e in await listed(status="active")] == [on_host["id"]]
    assert [e["id"] for e in await listed(host_id=str(host.id))] == [on_host["id"]]
    assert [e["id"] for e in await listed(host_group_id=str(group.id))] == [on_group["id"]]
    assert {e["id"] for e in await listed(rule_id=OTHER_RULE)} == {on_group["id"], org_wide["id"]}
    assert len(await listed(org_id=str(team.org.id), page_size=2)) == 2
    page = await client.get(EXCEPTIONS, params={"page": 2, "page_size": 2}, headers=team.approver_headers)
    assert len(page.json()) == 1 and page.headers["X-Total-Count"] == "3"
    assert (await client.get(EXCEPTIONS, params={"status": "bogus"}, headers=team.approver_headers)).status_code == 422

    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    engine = client.app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        await listed(page_size=1)
        one_row = len(statements)
        statements.clear()
        await listed(page_size=100)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == one_row  # no query per row


async def test_approval_with_expiry_succeeds_while_temporal_is_unreachable(client, db):
    # The timer is best effort: the scan cycle's safety net expires the exception if it never starts.
    team = await make_team(client, db)
    approved = await approved_exception(client, team, expires_at=in_days(30))
    assert approved["status"] == "active"
    stored = await db.get(ComplianceException, uuid.UUID(approved["id"]))
    assert stored.status == "active"


async def test_creator_may_shorten_but_not_extend_an_approved_expiry(client, db):
    team = await make_team(client, db)
    active = await approved_exception(client, team, expires_at=in_days(30))
    url = f"{EXCEPTIONS}/{active['id']}"
    for longer in ({"expires_at": in_days(60)}, {"expires_at": None}):
        response = await client.patch(url, json=longer, headers=team.requester_headers)
        assert response.status_code == 403 and response.json()["detail"] == SELF_EXTENSION
    shorter = await client.patch(url, json={"expires_at": in_days(10)}, headers=team.requester_headers)
    assert shorter.status_code == 200, shorter.text
    extended = await client.patch(url, json={"expires_at": in_days(90)}, headers=team.approver_headers)
    assert extended.status_code == 200, extended.text
    assert datetime.fromisoformat(extended.json()["expires_at"]) > datetime.now(UTC) + timedelta(days=89)
    assert await audit_actions(db, active["id"]) == [
        "exception.create", "exception.approve", "exception.update", "exception.update"]
