"""Template lifecycle over HTTP: list and read, copy, edit, publish, version, delete, checks, RBAC and audit."""

import hashlib
import uuid

from sqlalchemy import select

from models import (
    AuditEntry,
    AutomationWorkflow,
    ComplianceCheck,
    CompliancePolicy,
    ComplianceScan,
    ComplianceTemplate,
    Script,
)
from tests.factories import login, make_host, make_org, make_user

BASE = "/api/v1/compliance/templates"
SYSCTL = {"type": "sysctl", "key": "net.ipv4.ip_forward", "expected": "0"}


async def system_template(db, key: str = "cis-linux-l2") -> ComplianceTemplate:
    return await db.scalar(select(ComplianceTemplate).where(ComplianceTemplate.content_key == key))


async def operator_in_new_org(client, db, role: str = "operator"):
    org = await make_org(db)
    user = await make_user(db, org=org, role=role)
    await db.commit()
    return org, await login(client, user.username)


async def copy_of(client, headers, org_id, source_id, name: str = "Hardened Linux") -> dict:
    response = await client.post(f"{BASE}/{source_id}/copy", json={"org_id": str(org_id), "name": name},
                                 headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def actions(db, template_id) -> list[str]:
    rows = await db.scalars(select(AuditEntry.action).where(AuditEntry.target_id == str(template_id))
                            .order_by(AuditEntry.id))
    return list(rows)


async def test_list_shows_system_and_own_org_templates_with_filters_and_paging(client, db):
    org, headers = await operator_in_new_org(client, db)
    other_org, other_headers = await operator_in_new_org(client, db)
    systems = (await db.scalars(select(ComplianceTemplate).where(ComplianceTemplate.is_system))).all()
    assert len(systems) == 9
    source = await system_template(db)
    mine = await copy_of(client, headers, org.id, source.id, "Mine")
    theirs = await copy_of(client, other_headers, other_org.id, source.id, "Theirs")

    listed = await client.get(BASE, params={"page_size": 100}, headers=headers)
    assert listed.status_code == 200 and listed.headers["X-Total-Count"] == "10"
    ids = [t["id"] for t in listed.json()]
    assert mine["id"] in ids and theirs["id"] not in ids
    item = next(t for t in listed.json() if t["id"] == str(source.id))
    assert item["check_count"] == item["enabled_check_count"] > 0 and "checks" not in item
    assert item["is_system"] is True and item["org_id"] is None and item["status"] == "published"

    linux = await client.get(BASE, params={"os_type": "linux", "framework": "cis"}, headers=headers)
    assert {t["os_type"] for t in linux.json()} == {"linux"} and linux.headers["X-Total-Count"] == "3"
    drafts = await client.get(BASE, params={"status": "draft"}, headers=headers)
    assert [t["id"] for t in drafts.json()] == [mine["id"]]
    own = await client.get(BASE, params={"org_id": str(org.id)}, headers=headers)
    assert [t["id"] for t in own.json()] == [mine["id"]]
    foreign = await client.get(BASE, params={"org_id": str(other_org.id)}, headers=headers)
    assert foreign.json() == [] and foreign.headers["X-Total-Count"] == "0"
    paged = await client.get(BASE, params={"page": 2, "page_size": 4}, headers=headers)
    assert len(paged.json()) == 4 and paged.headers["X-Total-Count"] == "10"


async def test_get_returns_checks_in_position_order(client, db):
    _, headers = await operator_in_new_org(client, db)
    source = await system_template(db)
    response = await client.get(f"{BASE}/{source.id}", headers=headers)
    assert response.status_code == 200
    body = response.json()
    assert [c["position"] for c in body["checks"]] == sorted(c["position"] for c in body["checks"])
    check = body["checks"][0]
    for field in ("id", "rule_id", "title", "severity", "enabled", "rule", "frameworks", "remediation_type",
                  "script_id", "workflow_id", "remediation_requires_change", "description",
                  "remediation_instructions"):
        assert field in check
    assert body["check_count"] == len(body["checks"])
    assert (await client.get(f"{BASE}/{uuid.uuid4()}", headers=headers)).status_code == 404


async def test_copy_makes_a_draft_in_a_new_lineage_with_every_check_and_binding(client, db):
    org, headers = await operator_in_new_org(client, db)
    source = await system_template(db, "cis-linux-l1")
    copied = await copy_of(client, headers, org.id, source.id)
    assert copied["status"] == "draft" and copied["version"] == 1 and copied["is_system"] is False
    assert copied["org_id"] == str(org.id) and copied["source_template_id"] == str(source.id)
    assert copied["lineage_id"] != str(source.lineage_id) and copied["name"] == "Hardened Linux"
    original = (await client.get(f"{BASE}/{source.id}", headers=headers)).json()["checks"]
    strip = ("id", "template_id")
    assert [{k: v for k, v in c.items() if k not in strip} for c in copied["checks"]] == \
        [{k: v for k, v in c.items() if k not in strip} for c in original]
    assert any(c["script_id"] for c in copied["checks"])
    assert await actions(db, copied["id"]) == ["template.copy"]

    no_name = await client.post(f"{BASE}/{source.id}/copy", json={"org_id": str(org.id)}, headers=headers)
    assert no_name.status_code == 422
    extra = await client.post(f"{BASE}/{source.id}/copy", json={"org_id": str(org.id), "name": "x", "status": "p"},
                              headers=headers)
    assert extra.status_code == 422


async def test_copy_needs_manage_in_the_target_org(client, db):
    org, viewer_headers = await operator_in_new_org(client, db, role="viewer")
    other_org, other_headers = await operator_in_new_org(client, db)
    source = await system_template(db)
    denied = await client.post(f"{BASE}/{source.id}/copy", json={"org_id": str(org.id), "name": "x"},
                               headers=viewer_headers)
    assert denied.status_code == 403
    elsewhere = await client.post(f"{BASE}/{source.id}/copy", json={"org_id": str(org.id), "name": "x"},
                                  headers=other_headers)
    assert elsewhere.status_code == 404
    theirs = await copy_of(client, other_headers, other_org.id, source.id)
    probe = await client.post(f"{BASE}/{theirs['id']}/copy", json={"org_id": str(org.id), "name": "x"},
                              headers=viewer_headers)
    assert probe.status_code == 404


async def test_edit_validates_interval_and_publish_saves_edits_first(client, db):
    org, headers = await operator_in_new_org(client, db)
    draft = await copy_of(client, headers, org.id, (await system_template(db)).id)
    url = f"{BASE}/{draft['id']}"
    for hours in (23, 169):
        assert (await client.patch(url, json={"scan_interval_hours": hours}, headers=headers)).status_code == 422
    assert (await client.patch(url, json={"status": "draft"}, headers=headers)).status_code == 422
    assert (await client.patch(url, json={"name": None}, headers=headers)).status_code == 422
    edited = await client.patch(url, json={"name": "Renamed", "description": "why", "scan_interval_hours": 48},
                                headers=headers)
    assert edited.status_code == 200 and edited.json()["scan_interval_hours"] == 48

    published = await client.patch(url, json={"status": "published", "name": "Final", "scan_interval_hours": 72},
                                   headers=headers)
    assert published.status_code == 200, published.text
    body = published.json()
    assert body["status"] == "published" and body["name"] == "Final" and body["scan_interval_hours"] == 72
    assert body["published_at"] is not None
    assert await actions(db, draft["id"]) == ["template.copy", "template.update", "template.publish"]
    entry = await db.scalar(select(AuditEntry).where(AuditEntry.action == "template.publish"))
    assert entry.before["status"] == "draft" and entry.after["status"] == "published"


async def test_publish_needs_an_enabled_check_and_rolls_back_the_edits(client, db):
    org, headers = await operator_in_new_org(client, db)
    draft = await copy_of(client, headers, org.id, (await system_template(db)).id)
    ids = [c["id"] for c in draft["checks"]]
    off = await client.post(f"{BASE}/{draft['id']}/checks/bulk-toggle", json={"check_ids": ids, "enabled": False},
                            headers=headers)
    assert off.status_code == 200 and off.json()["enabled_check_count"] == 0
    refused = await client.patch(f"{BASE}/{draft['id']}", json={"status": "published", "name": "Nope"},
                                 headers=headers)
    assert refused.status_code == 400 and "enabled check" in refused.json()["detail"]
    after = (await client.get(f"{BASE}/{draft['id']}", headers=headers)).json()
    assert after["status"] == "draft" and after["name"] == "Hardened Linux"


async def test_published_templates_are_immutable(client, db):
    org, headers = await operator_in_new_org(client, db)
    draft = await copy_of(client, headers, org.id, (await system_template(db)).id)
    check_id = draft["checks"][0]["id"]
    await client.patch(f"{BASE}/{draft['id']}", json={"status": "published"}, headers=headers)
    url = f"{BASE}/{draft['id']}"
    attempts = [
        ("PATCH", url, {"name": "x"}),
        ("PATCH", url, {"status": "published"}),
        ("POST", f"{url}/checks", {"rule_id": "9.9", "title": "t", "severity": "low", "rule": SYSCTL}),
        ("PATCH", f"{url}/checks/{check_id}", {"enabled": False}),
        ("DELETE", f"{url}/checks/{check_id}", None),
        ("POST", f"{url}/checks/bulk-toggle", {"check_ids": [check_id], "enabled": False}),
    ]
    for method, target, body in attempts:
        response = await client.request(method, target, json=body, headers=headers)
        assert response.status_code == 409, (method, target, response.text)
        assert "immutable" in response.json()["detail"]


async def test_system_templates_are_read_only_even_for_admins(client, db):
    admin = await make_user(db, is_admin=True)
    await db.commit()
    headers = await login(client, admin.username)
    source = await system_template(db)
    url = f"{BASE}/{source.id}"
    check_id = (await db.scalar(select(ComplianceCheck.id).where(ComplianceCheck.template_id == source.id)))
    attempts = [
        ("PATCH", url, {"name": "x"}),
        ("DELETE", url, None),
        ("POST", f"{url}/versions", None),
        ("POST", f"{url}/checks", {"rule_id": "9.9", "title": "t", "severity": "low", "rule": SYSCTL}),
        ("PATCH", f"{url}/checks/{check_id}", {"enabled": False}),
        ("DELETE", f"{url}/checks/{check_id}", None),
        ("POST", f"{url}/checks/bulk-toggle", {"check_ids": [str(check_id)], "enabled": False}),
    ]
    for method, target, body in attempts:
        response = await client.request(method, target, json=body, headers=headers)
        assert response.status_code == 409, (method, target, response.text)
        assert "system templates are read-only" in response.json()["detail"]


async def test_check_crud_with_rule_validation_duplicates_and_audit(client, db):
    org, headers = await operator_in_new_org(client, db)
    draft = await copy_of(client, headers, org.id, (await system_template(db)).id)
    url = f"{BASE}/{draft['id']}/checks"
    new = {"rule_id": "99.1", "title": "IP forwarding off", "severity": "high", "rule": SYSCTL,
           "frameworks": {"cis": "99.1", "nist": ["CM-6"]}, "remediation_type": "manual",
           "remediation_instructions": "Set net.ipv4.ip_forward = 0"}
    created = await client.post(url, json=new, headers=headers)
    assert created.status_code == 201, created.text
    check = created.json()
    assert check["position"] == len(draft["checks"]) and check["enabled"] is True
    assert (await client.post(url, json=new, headers=headers)).status_code == 409
    bad_rule = await client.post(url, json=new | {"rule_id": "99.2", "rule": {"type": "sysctl", "key": "x"}},
                                 headers=headers)
    assert bad_rule.status_code == 422 and "invalid rule" in str(bad_rule.json()["detail"])
    unknown = await client.post(url, json=new | {"rule_id": "99.3", "rule": {"type": "telepathy"}}, headers=headers)
    assert unknown.status_code == 422

    taken = draft["checks"][0]["rule_id"]
    assert (await client.patch(f"{url}/{check['id']}", json={"rule_id": taken}, headers=headers)).status_code == 409
    assert (await client.patch(f"{url}/{check['id']}", json={"rule": {"type": "x"}}, headers=headers)).status_code \
        == 422
    edited = await client.patch(f"{url}/{check['id']}", json={"severity": "critical", "enabled": False},
                                headers=headers)
    assert edited.status_code == 200 and edited.json()["severity"] == "critical" and not edited.json()["enabled"]
    assert (await client.patch(f"{url}/{uuid.uuid4()}", json={"enabled": True}, headers=headers)).status_code == 404
    other = await copy_of(client, headers, org.id, (await system_template(db)).id, "Other")
    foreign_check = other["checks"][0]["id"]
    assert (await client.delete(f"{url}/{foreign_check}", headers=headers)).status_code == 404
    assert (await client.delete(f"{url}/{check['id']}", headers=headers)).status_code == 204
    assert await db.get(ComplianceCheck, uuid.UUID(check["id"])) is None

    toggle = await client.post(f"{url}/bulk-toggle", json={"check_ids": [foreign_check], "enabled": False},
                               headers=headers)
    assert toggle.status_code == 422
    assert await actions(db, draft["id"]) == [
        "template.copy", "template.check.create", "template.check.update", "template.check.delete"]


async def test_remediation_bindings_must_be_usable_by_the_org(client, db):
    org, headers = await operator_in_new_org(client, db)
    other_org = await make_org(db)
    body = "sysctl -w net.ipv4.ip_forward=0\n"
    digest = hashlib.sha256(body.encode()).hexdigest()
    own = Script(org_id=org.id, name="fix", shell="bash", body=body, sha256=digest, timeout_seconds=60)
    foreign = Script(org_id=other_org.id, name="fix", shell="bash", body=body, sha256=digest, timeout_seconds=60)
    windows = Script(org_id=org.id, name="win", shell="powershell", body="x", sha256=digest, timeout_seconds=60)
    own_flow = AutomationWorkflow(org_id=org.id, name="flow", steps=[])
    foreign_flow = AutomationWorkflow(org_id=other_org.id, name="flow", steps=[])
    db.add_all([own, foreign, windows, own_flow, foreign_flow])
    await db.commit()
    system_script = await db.scalar(select(Script.id).where(Script.org_id.is_(None), Script.shell == "bash"))
    draft = await copy_of(client, headers, org.id, (await system_template(db)).id)
    url = f"{BASE}/{draft['id']}/checks"
    base = {"title": "t", "severity": "low", "rule": SYSCTL}

    def check(n: int, **extra) -> dict:
        return base | {"rule_id": f"x.{n}"} | extra

    rejected = [
        check(1, remediation_type="script"),
        check(2, remediation_type="script", script_id=str(foreign.id)),
        check(3, remediation_type="script", script_id=str(windows.id)),
        check(4, remediation_type="script", script_id=str(uuid.uuid4())),
        check(5, remediation_type="workflow"),
        check(6, remediation_type="workflow", workflow_id=str(foreign_flow.id)),
        check(7, remediation_type="none", script_id=str(own.id)),
    ]
    for payload in rejected:
        response = await client.post(url, json=payload, headers=headers)
        assert response.status_code == 422, (payload, response.text)
    accepted = [
        check(10, remediation_type="script", script_id=str(own.id), remediation_requires_change=True),
        check(11, remediation_type="script", script_id=str(system_script)),
        check(12, remediation_type="workflow", workflow_id=str(own_flow.id)),
    ]
    created = []
    for payload in accepted:
        response = await client.post(url, json=payload, headers=headers)
        assert response.status_code == 201, (payload, response.text)
        created.append(response.json())
    assert created[0]["remediation_requires_change"] is True

    switched = await client.patch(f"{url}/{created[0]['id']}", json={"remediation_type": "manual"}, headers=headers)
    assert switched.status_code == 200 and switched.json()["script_id"] is None
    rebound = await client.patch(f"{url}/{created[0]['id']}", json={"remediation_type": "workflow"}, headers=headers)
    assert rebound.status_code == 422


async def test_versions_clone_a_published_template_into_the_same_lineage(client, db):
    org, headers = await operator_in_new_org(client, db)
    draft = await copy_of(client, headers, org.id, (await system_template(db)).id)
    url = f"{BASE}/{draft['id']}"
    assert (await client.post(f"{url}/versions", headers=headers)).status_code == 409
    await client.patch(url, json={"status": "published"}, headers=headers)
    second = await client.post(f"{url}/versions", headers=headers)
    assert second.status_code == 201, second.text
    v2 = second.json()
    assert v2["version"] == 2 and v2["status"] == "draft" and v2["lineage_id"] == draft["lineage_id"]
    assert v2["source_template_id"] == draft["id"] and len(v2["checks"]) == len(draft["checks"])
    again = await client.post(f"{url}/versions", headers=headers)
    assert again.status_code == 409 and "draft" in again.json()["detail"]
    await client.patch(f"{BASE}/{v2['id']}", json={"status": "published"}, headers=headers)
    third = await client.post(f"{BASE}/{v2['id']}/versions", headers=headers)
    assert third.status_code == 201 and third.json()["version"] == 3
    assert await actions(db, v2["id"]) == ["template.version.create", "template.publish"]


async def test_delete_allows_drafts_and_unreferenced_templates_only(client, db):
    org, headers = await operator_in_new_org(client, db)
    source = await system_template(db)
    draft = await copy_of(client, headers, org.id, source.id, "Draft")
    assert (await client.delete(f"{BASE}/{draft['id']}", headers=headers)).status_code == 204
    assert await db.get(ComplianceTemplate, uuid.UUID(draft["id"])) is None
    assert await actions(db, draft["id"]) == ["template.copy", "template.delete"]

    unused = await copy_of(client, headers, org.id, source.id, "Unused")
    await client.patch(f"{BASE}/{unused['id']}", json={"status": "published"}, headers=headers)
    assert (await client.delete(f"{BASE}/{unused['id']}", headers=headers)).status_code == 204

    used = await copy_of(client, headers, org.id, source.id, "Used")
    await client.patch(f"{BASE}/{used['id']}", json={"status": "published"}, headers=headers)
    v2 = (await client.post(f"{BASE}/{used['id']}/versions", headers=headers)).json()
    policy = await client.post("/api/v1/compliance/policies", headers=headers, json={
        "org_id": str(org.id), "os_type": "linux", "template_id": used["id"]})
    assert policy.status_code == 201, policy.text
    in_use = await client.delete(f"{BASE}/{used['id']}", headers=headers)
    assert in_use.status_code == 409 and "policy" in in_use.json()["detail"]
    assert (await client.delete(f"{BASE}/{v2['id']}", headers=headers)).status_code == 204

    scanned = await copy_of(client, headers, org.id, source.id, "Scanned")
    await client.patch(f"{BASE}/{scanned['id']}", json={"status": "published"}, headers=headers)
    host = await make_host(db, org)
    db.add(ComplianceScan(org_id=org.id, host_id=host.id, policy_id=uuid.UUID(policy.json()["id"]),
                          template_id=uuid.UUID(scanned["id"]), template_version=1, scan_type="on_demand",
                          status="completed"))
    await db.commit()
    by_scan = await client.delete(f"{BASE}/{scanned['id']}", headers=headers)
    assert by_scan.status_code == 409 and "scan" in by_scan.json()["detail"]
    assert await db.scalar(select(CompliancePolicy.id)) is not None


async def test_another_orgs_template_is_404_on_every_route_and_viewers_get_403(client, db):
    other_org, other_headers = await operator_in_new_org(client, db)
    org, viewer_headers = await operator_in_new_org(client, db, role="viewer")
    theirs = await copy_of(client, other_headers, other_org.id, (await system_template(db)).id)
    mine = await copy_of(client, other_headers, other_org.id, (await system_template(db)).id, "Shared org")
    check_id = theirs["checks"][0]["id"]
    url = f"{BASE}/{theirs['id']}"
    routes = [
        ("GET", url, None), ("PATCH", url, {"name": "x"}), ("DELETE", url, None), ("POST", f"{url}/versions", None),
        ("GET", f"{url}/export", None),
        ("POST", f"{url}/copy", {"org_id": str(org.id), "name": "x"}),
        ("POST", f"{url}/checks", {"rule_id": "9.9", "title": "t", "severity": "low", "rule": SYSCTL}),
        ("PATCH", f"{url}/checks/{check_id}", {"enabled": False}),
        ("DELETE", f"{url}/checks/{check_id}", None),
        ("POST", f"{url}/checks/bulk-toggle", {"check_ids": [check_id], "enabled": False}),
    ]
    for method, target, body in routes:
        response = await client.request(method, target, json=body, headers=viewer_headers)
        assert response.status_code == 404, (method, target, response.text)

    viewer = await make_user(db, org=other_org, role="viewer")
    await db.commit()
    headers = await login(client, viewer.username)
    assert (await client.get(f"{BASE}/{mine['id']}", headers=headers)).status_code == 200
    for method, target, body in [r for r in routes if r[0] != "GET" and "/copy" not in r[1]]:
        response = await client.request(method, target, json=body, headers=headers)
        assert response.status_code == 403, (method, target, response.text)
