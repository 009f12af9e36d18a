"""A member of one organization sees nothing of another: every id-addressed route answers 404."""

from tests.factories import login, make_host, make_org, make_user


async def test_org_b_resources_are_404_for_org_a_user(client, db):
    org_a, org_b = await make_org(db), await make_org(db)
    user_a = await make_user(db, org=org_a, role="operator")
    host_b = await make_host(db, org_b)
    other = await make_user(db, org=org_b)
    await db.commit()
    admin_b = await make_user(db, is_admin=True)
    await db.commit()
    admin_headers = await login(client, admin_b.username)
    group_b = (await client.post("/api/v1/host-groups", json={"org_id": str(org_b.id), "name": "g"},
                                 headers=admin_headers)).json()["id"]

    headers = await login(client, user_a.username)
    probes = [
        ("GET", f"/api/v1/orgs/{org_b.id}", None),
        ("PATCH", f"/api/v1/orgs/{org_b.id}", {"automation_paused": True}),
        ("POST", f"/api/v1/orgs/{org_b.id}/members", {"user_id": str(user_a.id), "role": "admin"}),
        ("DELETE", f"/api/v1/orgs/{org_b.id}/members/{other.id}", None),
        ("POST", f"/api/v1/orgs/{org_b.id}/enrollment-tokens", {}),
        ("GET", f"/api/v1/hosts/{host_b.id}", None),
        ("GET", f"/api/v1/host-groups/{group_b}", None),
        ("POST", f"/api/v1/host-groups/{group_b}/members", {"host_ids": [str(host_b.id)]}),
        ("POST", "/api/v1/host-groups", {"org_id": str(org_b.id), "name": "sneaky"}),
        ("GET", f"/api/v1/audit-log?org_id={org_b.id}", None),
    ]
    for method, url, body in probes:
        response = await client.request(method, url, json=body, headers=headers)
        assert response.status_code == 404, (method, url, response.status_code, response.text)

    hosts = await client.get("/api/v1/hosts", headers=headers)
    assert hosts.json() == [] and hosts.headers["X-Total-Count"] == "0"
    orgs = await client.get("/api/v1/orgs", headers=headers)
    assert [o["id"] for o in orgs.json()] == [str(org_a.id)]
    groups = await client.get("/api/v1/host-groups", headers=headers)
    assert groups.json() == []
    b_org = await client.get(f"/api/v1/orgs/{org_b.id}", headers=admin_headers)
    assert b_org.json()["automation_paused"] is False
