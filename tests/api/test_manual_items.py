"""Small items of the manual: the template interval as the policy default, permissions by name, host-group search,
manual remediation instructions on scan results, search attributes on the scan-cycle schedule."""

from __future__ import annotations

from sqlalchemy import update

from config import Settings
from models import ComplianceCheck, ComplianceTemplate, HostGroup
from orchestration import search_attributes as sa
from orchestration.gateway import TemporalGateway
from tests.factories import login, make_host, make_org, make_user
from tests.scan_builders import make_policy, make_template, run_scan


async def test_a_policy_without_an_interval_takes_its_templates_scan_interval(client, db):
    org = await make_org(db)
    template = await make_template(db, org)
    await db.execute(update(ComplianceTemplate).where(ComplianceTemplate.id == template.template.id)
                     .values(scan_interval_hours=72))
    user = await make_user(db, org=org, role="operator")
    await db.commit()
    headers = await login(client, user.username)
    body = {"org_id": str(org.id), "os_type": "linux", "template_id": str(template.template.id)}
    created = await client.post("/api/v1/compliance/policies", headers=headers, json=body)
    assert created.status_code == 201, created.text
    assert created.json()["scan_interval_hours"] == 72

    other = await make_org(db)
    mine = await make_template(db, other)
    await make_user(db, org=other, role="operator", username=f"{user.username}-2")
    await db.commit()
    explicit = await client.post("/api/v1/compliance/policies", headers=await login(client, f"{user.username}-2"),
                                 json=body | {"org_id": str(other.id), "template_id": str(mine.template.id),
                                              "scan_interval_hours": 6})
    assert explicit.json()["scan_interval_hours"] == 6


async def test_me_lists_the_permissions_each_role_grants_by_name(client, db):
    org, second = await make_org(db, "alpha"), await make_org(db, "beta")
    viewer = await make_user(db, org=org, role="viewer")
    operator = await make_user(db, org=second, role="operator")
    admin = await make_user(db, is_admin=True)
    await db.commit()
    seen = (await client.get("/api/v1/auth/me", headers=await login(client, viewer.username))).json()
    assert [(m["org_name"], m["permissions"]) for m in seen["memberships"]] == [("alpha", ["compliance.view"])]
    assert seen["permissions_everywhere"] == []
    managed = (await client.get("/api/v1/auth/me", headers=await login(client, operator.username))).json()
    assert managed["memberships"][0]["permissions"] == ["compliance.view", "compliance.manage", "changes.approve"]
    everywhere = (await client.get("/api/v1/auth/me", headers=await login(client, admin.username))).json()
    assert everywhere["permissions_everywhere"] == ["compliance.view", "compliance.manage", "changes.approve",
                                                    "org.admin"]


async def test_host_groups_are_searched_by_name_and_paged(client, db):
    org, stranger = await make_org(db), await make_org(db)
    for name in ("web-frontends", "Web-backends", "databases"):
        db.add(HostGroup(org_id=org.id, name=name))
    db.add(HostGroup(org_id=stranger.id, name="web-elsewhere"))
    user = await make_user(db, org=org, role="viewer")
    await db.commit()
    headers = await login(client, user.username)
    found = await client.get("/api/v1/host-groups", headers=headers, params={"search": "WEB", "page_size": 1})
    assert found.headers["X-Total-Count"] == "2" and [g["name"] for g in found.json()] == ["Web-backends"]
    literal = await client.get("/api/v1/host-groups", headers=headers, params={"search": "%"})
    assert literal.json() == []


async def test_hosts_are_searched_by_hostname_or_ip(client, db):
    org = await make_org(db)
    await make_host(db, org, hostname="web-1", ip="10.1.2.3")
    await make_host(db, org, hostname="db-1", ip="10.9.9.9")
    user = await make_user(db, org=org, role="viewer")
    await db.commit()
    headers = await login(client, user.username)
    by_ip = await client.get("/api/v1/hosts", headers=headers, params={"search": "10.1.2"})
    by_name = await client.get("/api/v1/hosts", headers=headers, params={"search": "DB-"})
    assert [h["hostname"] for h in by_ip.json()] == ["web-1"] and [h["hostname"] for h in by_name.json()] == ["db-1"]


async def test_manual_checks_carry_their_instructions_into_scan_results(client, db, sessionmaker):
    org = await make_org(db)
    template = await make_template(db, org, checks=4, critical=0)
    manual, scripted = template.medium[0], template.medium[1]
    await db.execute(update(ComplianceCheck).where(ComplianceCheck.id == manual.id).values(
        remediation_type="manual", remediation_instructions="Set PermitRootLogin no in /etc/ssh/sshd_config"))
    await db.execute(update(ComplianceCheck).where(ComplianceCheck.id == scripted.id).values(
        remediation_instructions="ignored: not a manual check"))
    policy = await make_policy(db, org, template)
    host = await make_host(db, org)
    user = await make_user(db, org=org, role="viewer")
    await db.commit()
    scan = await run_scan(sessionmaker, policy, host.id, template, passed=0, failed=3)
    detail = (await client.get(f"/api/v1/compliance/scans/{scan.scan_id}",
                               headers=await login(client, user.username))).json()
    instructions = {r["check_id"]: r["remediation_instructions"] for r in detail["results"]}
    assert instructions[str(manual.id)] == "Set PermitRootLogin no in /etc/ssh/sshd_config"
    assert instructions[str(scripted.id)] is None


def test_the_scan_cycle_schedule_is_found_by_its_scan_type_when_attributes_are_on():
    base = {"database_url": "postgresql://x@127.0.0.1/x", "environment": "test",
            "jwt_secret": "test-secret-0123456789abcdef-0123456789"}
    tagged = TemporalGateway(Settings(**base, temporal_search_attributes=True)).scan_cycle_schedule()
    assert tagged.action.typed_search_attributes.get(sa.SCAN_TYPE) == "scheduled"
    plain = TemporalGateway(Settings(**base, temporal_search_attributes=False)).scan_cycle_schedule()
    assert len(plain.action.typed_search_attributes) == 0
