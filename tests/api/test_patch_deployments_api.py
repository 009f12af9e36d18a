"""The §7 patching endpoints: vulnerability policy, ring sets and patch deployments — permissions, paging,
404 across organizations, validation, conflicts and the audit trail."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from models import AuditEntry, ChangeRecord, HostGroup, Patch, PatchDeployment
from services import vuln_matching
from tests.factories import login, make_host, make_org, make_user
from tests.services.test_vuln_matching import NOW, debian_inventory, report
from tests.services.test_vulnerability_feeds import import_all

RINGS = [{"name": "canary", "soak_minutes": 30, "max_failure_rate": 0.1}]


async def people(client, db):
    org, other = await make_org(db), await make_org(db)
    operator, viewer = await make_user(db, org=org), await make_user(db, org=org, role="viewer")
    outsider = await make_user(db, org=other, role="admin")
    await db.commit()
    return org, other, (await login(client, operator.username), await login(client, viewer.username),
                        await login(client, outsider.username))


async def test_vulnerability_policy_has_defaults_and_saves_with_an_audit_entry(client, db):
    org, other, (op_h, viewer_h, outsider_h) = await people(client, db)
    url = f"/api/v1/orgs/{org.id}/vulnerability-policy"
    defaults = (await client.get(url, headers=viewer_h)).json()
    assert defaults == {"org_id": str(org.id), "min_severity": "high", "kev_always": True, "auto_deploy": False,
                        "auto_approve_min_severity": "critical", "ring_set_id": None, "updated_at": None}
    assert (await client.get(url, headers=outsider_h)).status_code == 404
    assert (await client.put(url, json={"min_severity": "low"}, headers=viewer_h)).status_code == 403
    assert (await client.put(url, json={"min_severity": "urgent"}, headers=op_h)).status_code == 422
    assert (await client.put(url, json={"surprise": 1}, headers=op_h)).status_code == 422
    assert (await client.put(url, json={"auto_deploy": True}, headers=op_h)).status_code == 422

    foreign = (await client.post(f"/api/v1/orgs/{other.id}/ring-sets", json={"name": "theirs", "rings": RINGS},
                                 headers=outsider_h)).json()
    refused = await client.put(url, json={"ring_set_id": foreign["id"]}, headers=op_h)
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "ring_set_id"]

    ours = (await client.post(f"/api/v1/orgs/{org.id}/ring-sets", json={"name": "ours", "rings": RINGS},
                              headers=op_h)).json()
    saved = await client.put(url, json={"min_severity": "medium", "auto_deploy": True, "ring_set_id": ours["id"],
                                        "auto_approve_min_severity": "high"}, headers=op_h)
    assert saved.status_code == 200, saved.text
    assert (saved.json()["min_severity"], saved.json()["auto_deploy"], saved.json()["updated_at"] is not None) == (
        "medium", True, True)
    assert (await client.get(url, headers=viewer_h)).json()["ring_set_id"] == ours["id"]
    entry = await db.scalar(select(AuditEntry).where(AuditEntry.action == "vulnerability_policy.update"))
    assert (entry.before["min_severity"], entry.after["min_severity"]) == ("high", "medium")

    # The ring set the policy deploys through cannot be deleted.
    assert (await client.delete(f"/api/v1/orgs/{org.id}/ring-sets/{ours['id']}", headers=op_h)).status_code == 409


async def test_ring_sets_crud_pages_and_stay_within_the_organization(client, db):
    org, other, (op_h, viewer_h, outsider_h) = await people(client, db)
    base = f"/api/v1/orgs/{org.id}/ring-sets"
    group = HostGroup(org_id=org.id, name="canaries")
    foreign_group = HostGroup(org_id=other.id, name="theirs")
    db.add_all([group, foreign_group])
    await db.commit()

    assert (await client.post(base, json={"name": "x", "rings": RINGS}, headers=viewer_h)).status_code == 403
    assert (await client.post(base, json={"name": "x", "rings": []}, headers=op_h)).status_code == 422
    assert (await client.post(base, json={"name": "x", "rings": [{"name": "r", "max_failure_rate": 2}]},
                              headers=op_h)).status_code == 422
    bad_group = await client.post(base, json={"name": "x", "rings": [
        {"name": "r", "host_group_id": str(foreign_group.id)}]}, headers=op_h)
    assert bad_group.status_code == 422 and bad_group.json()["detail"][0]["loc"] == [
        "body", "rings", 0, "host_group_id"]

    created = []
    for name in ("b-wide", "a-staged"):
        response = await client.post(base, headers=op_h, json={"name": name, "rings": [
            {"name": "canary", "host_group_id": str(group.id), "soak_minutes": 60},
            {"name": "rest", "soak_minutes": 0, "max_failure_rate": 0.2}]})
        assert response.status_code == 201, response.text
        created.append(response.json())
    assert created[0]["rings"][0] == {"name": "canary", "host_group_id": str(group.id), "soak_minutes": 60,
                                      "max_failure_rate": 0.0}
    assert (await client.post(base, json={"name": "a-staged", "rings": RINGS}, headers=op_h)).status_code == 409

    page = await client.get(f"{base}?page_size=1", headers=viewer_h)
    assert page.headers["X-Total-Count"] == "2" and [r["name"] for r in page.json()] == ["a-staged"]
    assert (await client.get(base, headers=outsider_h)).status_code == 404
    one = f"{base}/{created[0]['id']}"
    assert (await client.get(one, headers=outsider_h)).status_code == 404
    assert (await client.get(f"/api/v1/orgs/{other.id}/ring-sets/{created[0]['id']}",
                             headers=outsider_h)).status_code == 404

    patched = await client.patch(one, json={"rings": RINGS}, headers=op_h)
    assert patched.status_code == 200 and [r["name"] for r in patched.json()["rings"]] == ["canary"]
    assert (await client.patch(one, json={"name": "a-staged"}, headers=op_h)).status_code == 409
    assert (await client.delete(one, headers=viewer_h)).status_code == 403
    assert (await client.delete(one, headers=op_h)).status_code == 204
    assert (await client.get(one, headers=op_h)).status_code == 404
    actions = set(await db.scalars(select(AuditEntry.action).where(AuditEntry.target_type == "ring_set")))
    assert actions == {"ring_set.create", "ring_set.update", "ring_set.delete"}


async def test_manual_deployment_needs_a_patch_the_org_needs_and_is_read_with_its_rings(client, db):
    org, other, (op_h, viewer_h, outsider_h) = await people(client, db)
    await import_all(db)
    host = await make_host(db, org, hostname="deb12-a")
    await report(db, [host], debian_inventory(openssh="1:9.2p1-2+deb12u2"))
    await vuln_matching.match_org(db, org.id, NOW)
    await db.commit()
    patches = {p.package: p.id for p in await db.scalars(select(Patch).where(Patch.ecosystem == "Debian:12"))}
    ubuntu = await db.scalar(select(Patch.id).where(Patch.ecosystem != "Debian:12"))
    rings = (await client.post(f"/api/v1/orgs/{org.id}/ring-sets", json={"name": "one", "rings": RINGS},
                               headers=op_h)).json()
    body = {"org_id": str(org.id), "patch_ids": [str(patches["openssh"])], "ring_set_id": rings["id"]}

    assert (await client.post("/api/v1/patch-deployments", json=body, headers=viewer_h)).status_code == 403
    assert (await client.post("/api/v1/patch-deployments", json=body, headers=outsider_h)).status_code == 404
    assert (await client.post("/api/v1/patch-deployments", json=body | {"extra": 1}, headers=op_h)).status_code == 422
    unneeded = await client.post("/api/v1/patch-deployments", json=body | {"patch_ids": [str(ubuntu)]},
                                 headers=op_h)
    assert unneeded.status_code == 400
    assert (await client.post("/api/v1/patch-deployments", json=body | {"ring_set_id": str(uuid.uuid4())},
                              headers=op_h)).status_code == 404

    created = await client.post("/api/v1/patch-deployments", json=body, headers=op_h)
    assert created.status_code == 201, created.text
    deployment = created.json()
    assert (deployment["status"], deployment["automatic"], deployment["needs_approval"]) == (
        "pending_approval", False, True)  # openssh is high, below the default auto-approve (critical)
    assert [(p["package"], p["fixed_version"]) for p in deployment["patches"]] == [("openssh", "1:9.2p1-2+deb12u3")]
    assert [(r["index"], r["name"], r["status"]) for r in deployment["rings"]] == [(0, "canary", "pending")]
    assert deployment["workflow_id"] == f"patch-deployment-{deployment['id']}"

    listed = await client.get(f"/api/v1/patch-deployments?org_id={org.id}&status=pending_approval",
                              headers=viewer_h)
    assert listed.headers["X-Total-Count"] == "1" and listed.json()[0]["id"] == deployment["id"]
    assert (await client.get("/api/v1/patch-deployments?status=running", headers=viewer_h)).json() == []
    assert (await client.get("/api/v1/patch-deployments?status=exploded", headers=viewer_h)).status_code == 422
    assert (await client.get("/api/v1/patch-deployments", headers=outsider_h)).json() == []
    assert (await client.get(f"/api/v1/patch-deployments/{deployment['id']}", headers=outsider_h)).status_code == 404

    # Cancel: stored for the workflow to read; a finished deployment cannot be cancelled.
    assert (await client.post(f"/api/v1/patch-deployments/{deployment['id']}/cancel",
                              headers=viewer_h)).status_code == 403
    assert (await client.post(f"/api/v1/patch-deployments/{deployment['id']}/cancel",
                              headers=op_h)).status_code == 202
    stored = await db.get(PatchDeployment, uuid.UUID(deployment["id"]), populate_existing=True)
    assert stored.cancel_requested_by is not None
    stored.status = "completed"
    await db.commit()
    assert (await client.post(f"/api/v1/patch-deployments/{deployment['id']}/cancel",
                              headers=op_h)).status_code == 409
    actions = set(await db.scalars(select(AuditEntry.action).where(AuditEntry.target_id == deployment["id"])))
    assert actions == {"patch_deployment.create", "patch_deployment.cancel"}
    assert await db.scalar(select(ChangeRecord.id).where(ChangeRecord.deployment_id == stored.id)) is None
