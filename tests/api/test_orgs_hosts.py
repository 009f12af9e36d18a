"""Organizations, members, hosts, host groups: permissions, paging, validation and audit rows."""

import uuid

from sqlalchemy import select

from models import AuditEntry, Membership
from tests.factories import login, make_host, make_org, make_user


async def test_admin_creates_org_and_members_and_every_change_is_audited(client, db):
    admin = await make_user(db, is_admin=True)
    newcomer = await make_user(db)
    await db.commit()
    headers = await login(client, admin.username)

    created = await client.post("/api/v1/orgs", json={"name": "Acme"}, headers=headers)
    assert created.status_code == 201
    org_id = created.json()["id"]
    duplicate = await client.post("/api/v1/orgs", json={"name": "Acme"}, headers=headers)
    assert duplicate.status_code == 409

    added = await client.post(f"/api/v1/orgs/{org_id}/members",
                              json={"user_id": str(newcomer.id), "role": "viewer"}, headers=headers)
    assert added.status_code == 201 and added.json()["role"] == "viewer"
    paused = await client.patch(f"/api/v1/orgs/{org_id}", json={"automation_paused": True}, headers=headers)
    assert paused.json()["automation_paused"] is True
    removed = await client.delete(f"/api/v1/orgs/{org_id}/members/{newcomer.id}", headers=headers)
    assert removed.status_code == 204
    assert await db.get(Membership, (newcomer.id, uuid.UUID(org_id))) is None

    rows = (await db.scalars(select(AuditEntry).where(AuditEntry.org_id == uuid.UUID(org_id))
                             .order_by(AuditEntry.id))).all()
    assert [r.action for r in rows] == ["org.create", "org.member.set", "org.automation_paused", "org.member.remove"]
    assert all(r.actor_id == admin.id for r in rows)
    assert rows[2].before["automation_paused"] is False and rows[2].after["automation_paused"] is True

    log = await client.get("/api/v1/audit-log", params={"org_id": org_id}, headers=headers)
    assert log.status_code == 200 and log.headers["X-Total-Count"] == "4"
    assert log.json()[0]["action"] == "org.member.remove"


async def test_viewer_cannot_mutate_but_can_read(client, db):
    org = await make_org(db)
    viewer = await make_user(db, org=org, role="viewer")
    await make_host(db, org)
    await db.commit()
    headers = await login(client, viewer.username)
    assert (await client.get(f"/api/v1/orgs/{org.id}", headers=headers)).status_code == 200
    assert (await client.get("/api/v1/hosts", headers=headers)).status_code == 200
    for method, url, body in [
        ("PATCH", f"/api/v1/orgs/{org.id}", {"automation_paused": True}),
        ("POST", "/api/v1/host-groups", {"org_id": str(org.id), "name": "web"}),
        ("POST", f"/api/v1/orgs/{org.id}/enrollment-tokens", {}),
    ]:
        response = await client.request(method, url, json=body, headers=headers)
        assert response.status_code == 403, (url, response.text)
        assert "compliance.manage" in response.json()["detail"]
    assert (await client.post("/api/v1/orgs", json={"name": "x"}, headers=headers)).status_code == 403
    assert (await client.get("/api/v1/users", headers=headers)).status_code == 403


async def test_operator_manages_host_groups(client, db):
    org = await make_org(db)
    operator = await make_user(db, org=org, role="operator")
    hosts = [await make_host(db, org) for _ in range(2)]
    await db.commit()
    headers = await login(client, operator.username)
    group = await client.post("/api/v1/host-groups", json={"org_id": str(org.id), "name": "web"}, headers=headers)
    assert group.status_code == 201
    gid = group.json()["id"]
    members = await client.post(f"/api/v1/host-groups/{gid}/members",
                                json={"host_ids": [str(h.id) for h in hosts]}, headers=headers)
    assert members.status_code == 200 and len(members.json()["host_ids"]) == 2
    again = await client.post(f"/api/v1/host-groups/{gid}/members", json={"host_ids": [str(hosts[0].id)]},
                              headers=headers)
    assert len(again.json()["host_ids"]) == 2
    listed = await client.get("/api/v1/host-groups", headers=headers)
    assert listed.json()[0]["member_count"] == 2
    unknown = await client.post(f"/api/v1/host-groups/{gid}/members", json={"host_ids": [str(uuid.uuid4())]},
                                headers=headers)
    assert unknown.status_code == 422


async def test_hosts_search_pages_and_counts(client, db):
    org = await make_org(db)
    user = await make_user(db, org=org, role="viewer")
    for i in range(7):
        await make_host(db, org, hostname=f"web-{i:02d}.Example.com", ip=f"10.1.0.{i}")
    await make_host(db, org, hostname="db-01", ip="192.168.7.7")
    await db.commit()
    headers = await login(client, user.username)

    page1 = await client.get("/api/v1/hosts", params={"search": "WEB", "page_size": 5}, headers=headers)
    assert page1.status_code == 200
    assert page1.headers["X-Total-Count"] == "7" and len(page1.json()) == 5
    page2 = await client.get("/api/v1/hosts", params={"search": "web", "page_size": 5, "page": 2}, headers=headers)
    assert [h["hostname"] for h in page2.json()] == ["web-05.Example.com", "web-06.Example.com"]
    by_ip = await client.get("/api/v1/hosts", params={"search": "192.168"}, headers=headers)
    assert [h["hostname"] for h in by_ip.json()] == ["db-01"]
    assert by_ip.json()[0]["online"] is True
    literal = await client.get("/api/v1/hosts", params={"search": "%"}, headers=headers)
    assert literal.headers["X-Total-Count"] == "0"
    too_big = await client.get("/api/v1/hosts", params={"page_size": 101}, headers=headers)
    assert too_big.status_code == 422


async def test_malformed_bodies_are_422_with_field_errors(client, db):
    admin = await make_user(db, is_admin=True)
    await db.commit()
    headers = await login(client, admin.username)
    cases = [
        ("/api/v1/orgs", {"name": ""}),
        ("/api/v1/orgs", {"name": "ok", "automation_paused": True}),
        ("/api/v1/users", {"username": "ab", "password": "short"}),
        ("/api/v1/host-groups", {"org_id": "not-a-uuid", "name": "x"}),
    ]
    for url, body in cases:
        response = await client.post(url, json=body, headers=headers)
        assert response.status_code == 422, (url, body, response.text)
        assert isinstance(response.json()["detail"], list) and response.json()["detail"][0]["loc"]
    json_headers = headers | {"content-type": "application/json"}
    garbage = await client.post("/api/v1/orgs", content=b"{not json", headers=json_headers)
    assert garbage.status_code == 422


async def test_admin_creates_users_and_duplicates_conflict(client, db):
    admin = await make_user(db, is_admin=True)
    await db.commit()
    headers = await login(client, admin.username)
    body = {"username": "alice", "password": "long-enough-pw", "email": "alice@example.com"}
    created = await client.post("/api/v1/users", json=body, headers=headers)
    assert created.status_code == 201 and "password" not in created.text
    assert (await client.post("/api/v1/users", json=body, headers=headers)).status_code == 409
    listed = await client.get("/api/v1/users", headers=headers)
    assert listed.headers["X-Total-Count"] == "2"
    assert (await login(client, "alice", "long-enough-pw"))


async def test_enrollment_token_is_shown_once_and_stored_hashed(client, db):
    org = await make_org(db)
    operator = await make_user(db, org=org, role="operator")
    await db.commit()
    headers = await login(client, operator.username)
    response = await client.post(f"/api/v1/orgs/{org.id}/enrollment-tokens", json={}, headers=headers)
    assert response.status_code == 201
    token = response.json()["token"]
    from models import EnrollmentToken

    stored = (await db.scalars(select(EnrollmentToken))).one()
    assert stored.token_hash != token and len(stored.token_hash) == 64


async def test_health_and_readiness(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/api/v1/healthz")).status_code == 200
    ready = await client.get("/readyz")
    assert ready.status_code == 503  # Temporal is deliberately unreachable in this app instance
    assert ready.json()["database"] == "ok" and ready.json()["temporal"].startswith("unavailable")
