"""Rolling out a new compliance standard, end to end through the HTTP API."""

from sqlalchemy import select

from models import AuditEntry
from tests.factories import login, make_host, make_org, make_user

API = "/api/v1/compliance"


async def test_rolling_out_a_new_compliance_standard(client, db):
    org = await make_org(db, "Acme")
    operator = await make_user(db, org=org, role="operator")
    web, legacy = await make_host(db, org, hostname="web-1"), await make_host(db, org, hostname="legacy-db")
    await db.commit()
    headers = await login(client, operator.username)

    # 1. Find the system CIS Level 1 Linux template and copy it into the organization.
    catalogue = await client.get(f"{API}/templates", params={"os_type": "linux", "framework": "CIS"},
                                 headers=headers)
    assert catalogue.status_code == 200
    cis = next(t for t in catalogue.json() if t["content_key"] == "cis-linux-l1")
    assert cis["is_system"] and cis["status"] == "published" and cis["check_count"] > 3
    copied = await client.post(f"{API}/templates/{cis['id']}/copy",
                               json={"org_id": str(org.id), "name": "Acme Linux baseline"}, headers=headers)
    assert copied.status_code == 201, copied.text
    template = copied.json()
    assert template["status"] == "draft" and template["version"] == 1
    assert len(template["checks"]) == cis["check_count"]

    # 2. Three checks do not apply to this fleet: disable them in one call.
    skipped = [c["id"] for c in template["checks"][:3]]
    toggled = await client.post(f"{API}/templates/{template['id']}/checks/bulk-toggle",
                                json={"check_ids": skipped, "enabled": False}, headers=headers)
    assert toggled.status_code == 200, toggled.text
    after_toggle = toggled.json()
    assert after_toggle["enabled_check_count"] == cis["check_count"] - 3
    assert {c["id"] for c in after_toggle["checks"] if not c["enabled"]} == set(skipped)

    # 3. Publish it; from now on it is immutable.
    published = await client.patch(f"{API}/templates/{template['id']}", json={"status": "published"},
                                   headers=headers)
    assert published.status_code == 200, published.text
    assert published.json()["status"] == "published" and published.json()["published_at"]
    frozen = await client.patch(f"{API}/templates/{template['id']}/checks/{skipped[0]}", json={"enabled": True},
                                headers=headers)
    assert frozen.status_code == 409

    # 4. A Linux policy on it, following the newest published version.
    created = await client.post(f"{API}/policies", headers=headers, json={
        "org_id": str(org.id), "os_type": "linux", "template_id": template["id"], "name": "Linux servers",
        "auto_remediate_critical": True, "approval_mode": "manual"})
    assert created.status_code == 201, created.text
    policy = created.json()
    assert policy["template_id"] == template["id"] and policy["pinned_template_version"] is None
    assert policy["effective_template_id"] == template["id"] and policy["effective_template_version"] == 1
    assert policy["scan_interval_hours"] == 24 and policy["batch_size"] == 100
    assert policy["auto_remediate_critical"] is True and policy["auto_remediate_high"] is False

    # 5. The legacy database server is held to the STIG instead.
    stig = next(t for t in (await client.get(f"{API}/templates", params={"os_type": "linux"},
                                             headers=headers)).json() if t["content_key"] == "stig-linux")
    override = await client.post(f"{API}/policies/{policy['id']}/overrides",
                                 json={"host_id": str(legacy.id), "template_id": stig["id"]}, headers=headers)
    assert override.status_code == 201, override.text
    assert override.json()["hostname"] == "legacy-db" and override.json()["template_id"] == stig["id"]
    overrides = await client.get(f"{API}/policies/{policy['id']}/overrides", headers=headers)
    assert [o["host_id"] for o in overrides.json()] == [str(legacy.id)]
    assert str(web.id) not in {o["host_id"] for o in overrides.json()}

    # Every step left an audit row, attributed to the operator.
    rows = (await db.scalars(select(AuditEntry).where(AuditEntry.org_id == org.id).order_by(AuditEntry.id))).all()
    assert [r.action for r in rows] == [
        "template.copy", "template.checks.bulk_toggle", "template.publish", "policy.create",
        "policy.override.create",
    ]
    assert {r.actor_id for r in rows} == {operator.id}
