"""Policies and host overrides over HTTP: defaults, template rules, pins, uniqueness, RBAC and audit."""

import uuid

from sqlalchemy import select

from models import AuditEntry, ComplianceTemplate, PolicyHostOverride
from tests.factories import login, make_host, make_org, make_user

POLICIES = "/api/v1/compliance/policies"
TEMPLATES = "/api/v1/compliance/templates"
CONTRACT_FIELDS = {
    "id", "org_id", "os_type", "template_id", "pinned_template_version", "scan_interval_hours", "batch_size",
    "approval_mode", "auto_remediate_critical", "auto_remediate_high", "auto_remediate_medium",
    "auto_remediate_low", "enabled",
}


async def setup(client, db, role: str = "operator"):
    org = await make_org(db)
    user = await make_user(db, org=org, role=role)
    await db.commit()
    return org, await login(client, user.username)


async def system_id(db, key: str) -> str:
    return str(await db.scalar(select(ComplianceTemplate.id).where(ComplianceTemplate.content_key == key)))


async def custom_template(client, headers, org_id, source_id, *, publish: bool = True) -> dict:
    copied = await client.post(f"{TEMPLATES}/{source_id}/copy", json={"org_id": str(org_id), "name": "Ours"},
                               headers=headers)
    assert copied.status_code == 201, copied.text
    if not publish:
        return copied.json()
    published = await client.patch(f"{TEMPLATES}/{copied.json()['id']}", json={"status": "published"},
                                   headers=headers)
    return published.json()


async def create(client, headers, **fields):
    return await client.post(POLICIES, json={k: str(v) if isinstance(v, uuid.UUID) else v
                                             for k, v in fields.items()}, headers=headers)


async def test_create_applies_defaults_and_answers_the_contract_fields(client, db):
    org, headers = await setup(client, db)
    template_id = await system_id(db, "cis-linux-l1")
    response = await create(client, headers, org_id=org.id, os_type="linux", template_id=template_id)
    assert response.status_code == 201, response.text
    policy = response.json()
    assert CONTRACT_FIELDS <= set(policy)
    assert policy["scan_interval_hours"] == 24 and policy["batch_size"] == 100
    assert policy["approval_mode"] == "auto" and policy["enabled"] is True and policy["name"] is None
    assert not any(policy[f"auto_remediate_{s}"] for s in ("critical", "high", "medium", "low"))
    assert policy["pinned_template_version"] is None
    assert policy["effective_template_id"] == template_id and policy["effective_template_version"] == 1
    entry = await db.scalar(select(AuditEntry).where(AuditEntry.action == "policy.create"))
    assert entry.target_id == policy["id"] and entry.after["template_id"] == template_id

    second = await create(client, headers, org_id=org.id, os_type="linux", template_id=template_id)
    assert second.status_code == 409
    windows = await create(client, headers, org_id=org.id, os_type="windows", name="Servers", batch_size=10_000,
                           template_id=await system_id(db, "stig-windows"), approval_mode="manual",
                           scan_interval_hours=8760, auto_remediate_critical=True, enabled=False)
    assert windows.status_code == 201 and windows.json()["approval_mode"] == "manual"
    listed = await client.get(POLICIES, params={"os_type": "windows"}, headers=headers)
    assert [p["id"] for p in listed.json()] == [windows.json()["id"]] and listed.headers["X-Total-Count"] == "1"


async def test_invalid_values_are_422(client, db):
    org, headers = await setup(client, db)
    template_id = await system_id(db, "cis-linux-l1")
    base = {"org_id": org.id, "os_type": "linux", "template_id": template_id}
    for bad in ({"scan_interval_hours": 0}, {"scan_interval_hours": 8761}, {"batch_size": 0},
                {"batch_size": 10_001}, {"approval_mode": "sometimes"}, {"os_type": "macos"}, {"surprise": 1},
                {"pinned_template_version": 0}):
        response = await create(client, headers, **(base | bad))
        assert response.status_code == 422, (bad, response.text)


async def test_template_must_fit_the_policy(client, db):
    org, headers = await setup(client, db)
    other_org, other_headers = await setup(client, db)
    linux = await system_id(db, "cis-linux-l1")
    draft = await custom_template(client, headers, org.id, linux, publish=False)
    theirs = await custom_template(client, other_headers, other_org.id, linux)
    base = {"org_id": org.id, "os_type": "linux"}
    cases = [
        (await system_id(db, "cis-windows-l1"), 422),
        (draft["id"], 400),
        (theirs["id"], 404),
        (str(uuid.uuid4()), 404),
    ]
    for template_id, status in cases:
        response = await create(client, headers, **base, template_id=template_id)
        assert response.status_code == status, (template_id, response.text)
    assert (await create(client, headers, **base, template_id=linux, pinned_template_version=2)).status_code == 422


async def test_pins_and_auto_latest_resolve_within_the_lineage(client, db):
    org, headers = await setup(client, db)
    v1 = await custom_template(client, headers, org.id, await system_id(db, "cis-linux-l1"))
    v2 = (await client.post(f"{TEMPLATES}/{v1['id']}/versions", headers=headers)).json()
    draft_pin = await create(client, headers, org_id=org.id, os_type="linux", template_id=v1["id"],
                             pinned_template_version=2)
    assert draft_pin.status_code == 422
    auto = await create(client, headers, org_id=org.id, os_type="linux", template_id=v1["id"])
    policy = auto.json()
    assert policy["effective_template_id"] == v1["id"] and policy["effective_template_version"] == 1

    await client.patch(f"{TEMPLATES}/{v2['id']}", json={"status": "published"}, headers=headers)
    now = (await client.get(f"{POLICIES}/{policy['id']}", headers=headers)).json()
    assert now["effective_template_id"] == v2["id"] and now["effective_template_version"] == 2

    pinned = await client.patch(f"{POLICIES}/{policy['id']}", json={"pinned_template_version": 1}, headers=headers)
    assert pinned.status_code == 200 and pinned.json()["effective_template_version"] == 1
    missing = await client.patch(f"{POLICIES}/{policy['id']}", json={"pinned_template_version": 7}, headers=headers)
    assert missing.status_code == 422
    cleared = await client.patch(f"{POLICIES}/{policy['id']}", json={"pinned_template_version": None},
                                 headers=headers)
    assert cleared.json()["pinned_template_version"] is None and cleared.json()["effective_template_version"] == 2


async def test_update_revalidates_and_is_audited(client, db):
    org, headers = await setup(client, db)
    policy = (await create(client, headers, org_id=org.id, os_type="linux",
                           template_id=await system_id(db, "cis-linux-l1"))).json()
    url = f"{POLICIES}/{policy['id']}"
    changed = await client.patch(url, headers=headers, json={
        "template_id": await system_id(db, "stig-linux"), "batch_size": 500, "approval_mode": "manual",
        "auto_remediate_high": True, "name": "Linux fleet"})
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["batch_size"] == 500 and body["auto_remediate_high"] is True and body["name"] == "Linux fleet"
    assert (await client.patch(url, json={"template_id": await system_id(db, "stig-bsd")},
                               headers=headers)).status_code == 422
    assert (await client.patch(url, json={"enabled": None}, headers=headers)).status_code == 422
    assert (await client.patch(url, json={"os_type": "bsd"}, headers=headers)).status_code == 422
    assert (await client.patch(url, json={"org_id": str(uuid.uuid4())}, headers=headers)).status_code == 422
    entry = await db.scalar(select(AuditEntry).where(AuditEntry.action == "policy.update"))
    assert entry.before["batch_size"] == 100 and entry.after["batch_size"] == 500


async def test_overrides_follow_the_policys_org_os_and_template_rules(client, db):
    org, headers = await setup(client, db)
    other_org = await make_org(db)
    host = await make_host(db, org, hostname="db-1")
    windows_host = await make_host(db, org, os_type="windows")
    foreign_host = await make_host(db, other_org)
    await db.commit()
    policy = (await create(client, headers, org_id=org.id, os_type="linux",
                           template_id=await system_id(db, "cis-linux-l1"))).json()
    url = f"{POLICIES}/{policy['id']}/overrides"
    stig = await system_id(db, "stig-linux")
    draft = await custom_template(client, headers, org.id, stig, publish=False)
    cases = [
        ({"host_id": str(foreign_host.id), "template_id": stig}, 404),
        ({"host_id": str(uuid.uuid4()), "template_id": stig}, 404),
        ({"host_id": str(windows_host.id), "template_id": await system_id(db, "stig-windows")}, 422),
        ({"host_id": str(host.id), "template_id": await system_id(db, "stig-windows")}, 422),
        ({"host_id": str(host.id), "template_id": draft["id"]}, 400),
    ]
    for body, status in cases:
        response = await client.post(url, json=body, headers=headers)
        assert response.status_code == status, (body, response.text)

    created = await client.post(url, json={"host_id": str(host.id), "template_id": stig}, headers=headers)
    assert created.status_code == 201, created.text
    override = created.json()
    assert override["hostname"] == "db-1" and override["template_id"] == stig
    duplicate = await client.post(url, json={"host_id": str(host.id), "template_id": stig}, headers=headers)
    assert duplicate.status_code == 409
    listed = await client.get(url, headers=headers)
    assert [o["id"] for o in listed.json()] == [override["id"]] and listed.headers["X-Total-Count"] == "1"
    assert (await client.delete(f"{url}/{uuid.uuid4()}", headers=headers)).status_code == 404
    assert (await client.delete(f"{url}/{override['id']}", headers=headers)).status_code == 204
    assert (await client.get(url, headers=headers)).json() == []
    logged = list(await db.scalars(select(AuditEntry.action).where(AuditEntry.target_id == policy["id"])
                                   .order_by(AuditEntry.id)))
    assert logged == ["policy.create", "policy.override.create", "policy.override.delete"]


async def test_delete_cascades_overrides_and_is_audited(client, db):
    org, headers = await setup(client, db)
    host = await make_host(db, org)
    await db.commit()
    policy = (await create(client, headers, org_id=org.id, os_type="linux",
                           template_id=await system_id(db, "cis-linux-l1"))).json()
    await client.post(f"{POLICIES}/{policy['id']}/overrides", headers=headers,
                      json={"host_id": str(host.id), "template_id": await system_id(db, "stig-linux")})
    assert (await client.delete(f"{POLICIES}/{policy['id']}", headers=headers)).status_code == 204
    assert (await client.get(f"{POLICIES}/{policy['id']}", headers=headers)).status_code == 404
    assert await db.scalar(select(PolicyHostOverride.id)) is None
    entry = await db.scalar(select(AuditEntry).where(AuditEntry.action == "policy.delete"))
    assert entry.before["id"] == policy["id"] and entry.before["override_count"] == 1


async def test_viewers_read_and_other_orgs_get_404(client, db):
    org, headers = await setup(client, db)
    viewer = await make_user(db, org=org, role="viewer")
    _, outsider_headers = await setup(client, db)
    host = await make_host(db, org)
    await db.commit()
    viewer_headers = await login(client, viewer.username)
    policy = (await create(client, headers, org_id=org.id, os_type="linux",
                           template_id=await system_id(db, "cis-linux-l1"))).json()
    stig = await system_id(db, "stig-linux")
    override = (await client.post(f"{POLICIES}/{policy['id']}/overrides", headers=headers,
                                  json={"host_id": str(host.id), "template_id": stig})).json()
    url = f"{POLICIES}/{policy['id']}"
    reads = [("GET", url, None), ("GET", f"{url}/overrides", None)]
    writes = [
        ("PATCH", url, {"batch_size": 5}), ("DELETE", url, None),
        ("POST", f"{url}/overrides", {"host_id": str(host.id), "template_id": stig}),
        ("DELETE", f"{url}/overrides/{override['id']}", None),
        ("POST", POLICIES, {"org_id": str(org.id), "os_type": "bsd", "template_id": await system_id(db, "stig-bsd")}),
    ]
    for method, target, body in reads:
        assert (await client.request(method, target, json=body, headers=viewer_headers)).status_code == 200
    for method, target, body in writes:
        response = await client.request(method, target, json=body, headers=viewer_headers)
        assert response.status_code == 403, (method, target, response.text)
    for method, target, body in reads + writes:
        response = await client.request(method, target, json=body, headers=outsider_headers)
        assert response.status_code == 404, (method, target, response.text)
    listed = await client.get(POLICIES, headers=outsider_headers)
    assert listed.json() == [] and listed.headers["X-Total-Count"] == "0"
