"""Scripts, automation workflows, change records and one-click fixes over HTTP (Temporal unreachable: the
database decision or record stands and the scan cycle's safety net hands it over later)."""

from __future__ import annotations

import hashlib
import uuid

from sqlalchemy import select

from models import (
    AuditEntry,
    ChangeRecord,
    ComplianceCheck,
    CompliancePolicy,
    ComplianceScan,
    Remediation,
    ScanResults,
    Script,
)
from tests.factories import login, make_host, make_org, make_user
from tests.stack import system_template_id

BODY = "#!/usr/bin/env bash\nset -eu\necho fixed\n"


async def operator(client, db, org=None, role="operator"):
    org = org or await make_org(db)
    user = await make_user(db, org=org, role=role)
    await db.commit()
    return org, user, await login(client, user.username)


async def new_script(client, headers, org_id, name="fix", **extra) -> dict:
    response = await client.post("/api/v1/scripts", headers=headers, json={
        "org_id": str(org_id), "name": name, "shell": "bash", "body": BODY, **extra})
    assert response.status_code == 201, response.text
    return response.json()


async def test_script_library_crud_hashes_bodies_and_audits(client, db):
    org, user, headers = await operator(client, db)
    script = await new_script(client, headers, org.id, description="disable a module")
    assert script["sha256"] == hashlib.sha256(BODY.encode()).hexdigest() and script["body"] == BODY
    assert script["is_system"] is False and script["timeout_seconds"] == 300

    listed = await client.get("/api/v1/scripts", headers=headers, params={"org_id": str(org.id),
                                                                         "include_system": "false"})
    assert listed.headers["X-Total-Count"] == "1" and listed.json()[0]["id"] == script["id"]
    everything = await client.get("/api/v1/scripts", headers=headers, params={"page_size": 5})
    assert int(everything.headers["X-Total-Count"]) > 1 and len(everything.json()) == 5

    patched = await client.patch(f"/api/v1/scripts/{script['id']}", headers=headers,
                                 json={"body": "echo other\n", "timeout_seconds": 60})
    assert patched.status_code == 200
    assert patched.json()["sha256"] == hashlib.sha256(b"echo other\n").hexdigest()
    duplicate = await client.post("/api/v1/scripts", headers=headers, json={
        "org_id": str(org.id), "name": "fix", "shell": "sh", "body": BODY})
    assert duplicate.status_code == 409
    bad_shell = await client.post("/api/v1/scripts", headers=headers, json={
        "org_id": str(org.id), "name": "x", "shell": "zsh", "body": BODY})
    assert bad_shell.status_code == 422
    sneaky = await client.post("/api/v1/scripts", headers=headers, json={
        "org_id": str(org.id), "name": "y", "shell": "sh", "body": BODY, "sha256": "0" * 64})
    assert sneaky.status_code == 422

    assert (await client.delete(f"/api/v1/scripts/{script['id']}", headers=headers)).status_code == 204
    assert (await client.get(f"/api/v1/scripts/{script['id']}", headers=headers)).status_code == 404
    actions = set(await db.scalars(select(AuditEntry.action).where(AuditEntry.target_id == script["id"])))
    assert actions == {"script.create", "script.update", "script.delete"}


async def test_system_scripts_are_readable_by_everyone_and_immutable(client, db):
    org, user, headers = await operator(client, db)
    system = await db.scalar(select(Script).where(Script.org_id.is_(None)).limit(1))
    got = await client.get(f"/api/v1/scripts/{system.id}", headers=headers)
    assert got.status_code == 200 and got.json()["is_system"] is True
    assert (await client.patch(f"/api/v1/scripts/{system.id}", headers=headers,
                               json={"name": "mine"})).status_code == 409
    assert (await client.delete(f"/api/v1/scripts/{system.id}", headers=headers)).status_code == 409


async def test_viewers_read_but_cannot_write_and_other_orgs_see_nothing(client, db):
    org, _, headers = await operator(client, db)
    _, _, viewer = await operator(client, db, org=org, role="viewer")
    _, _, stranger = await operator(client, db)
    script = await new_script(client, headers, org.id)
    assert (await client.get(f"/api/v1/scripts/{script['id']}", headers=viewer)).status_code == 200
    assert (await client.patch(f"/api/v1/scripts/{script['id']}", headers=viewer,
                               json={"name": "z"})).status_code == 403
    assert (await client.post("/api/v1/scripts", headers=viewer, json={
        "org_id": str(org.id), "name": "v", "shell": "sh", "body": BODY})).status_code == 403
    assert (await client.get(f"/api/v1/scripts/{script['id']}", headers=stranger)).status_code == 404
    assert (await client.delete(f"/api/v1/scripts/{script['id']}", headers=stranger)).status_code == 404
    flow = await client.post("/api/v1/automation-workflows", headers=headers, json={
        "org_id": str(org.id), "name": "f", "steps": [{"script_id": script["id"]}]})
    assert (await client.get(f"/api/v1/automation-workflows/{flow.json()['id']}",
                             headers=stranger)).status_code == 404
    listed = await client.get("/api/v1/automation-workflows", headers=stranger)
    assert listed.json() == [] and listed.headers["X-Total-Count"] == "0"


async def test_automation_workflows_need_visible_scripts_and_bound_ones_cannot_be_deleted(client, db):
    org, _, headers = await operator(client, db)
    other_org, _, other_headers = await operator(client, db)
    mine = await new_script(client, headers, org.id)
    theirs = await new_script(client, other_headers, other_org.id)
    system = await db.scalar(select(Script.id).where(Script.org_id.is_(None)).limit(1))

    refused = await client.post("/api/v1/automation-workflows", headers=headers, json={
        "org_id": str(org.id), "name": "bad", "steps": [{"script_id": theirs["id"]}]})
    assert refused.status_code == 422
    created = await client.post("/api/v1/automation-workflows", headers=headers, json={
        "org_id": str(org.id), "name": "two steps", "description": "d",
        "steps": [{"script_id": mine["id"], "continue_on_failure": True}, {"script_id": str(system)}]})
    assert created.status_code == 201, created.text
    flow = created.json()
    assert [s["continue_on_failure"] for s in flow["steps"]] == [True, False]
    patched = await client.patch(f"/api/v1/automation-workflows/{flow['id']}", headers=headers,
                                 json={"steps": [{"script_id": mine["id"]}]})
    assert patched.status_code == 200 and len(patched.json()["steps"]) == 1

    # A script used by a workflow, and a workflow bound by a check, cannot be deleted.
    assert (await client.delete(f"/api/v1/scripts/{mine['id']}", headers=headers)).status_code == 409
    copy = await client.post(f"/api/v1/compliance/templates/{await system_template_id(db)}/copy", headers=headers,
                             json={"org_id": str(org.id), "name": "mine"})
    assert copy.status_code == 201, copy.text
    check = await db.scalar(select(ComplianceCheck).where(ComplianceCheck.template_id == uuid.UUID(copy.json()["id"]))
                            .limit(1))
    check.remediation_type, check.script_id, check.workflow_id = "workflow", None, uuid.UUID(flow["id"])
    await db.commit()
    assert (await client.delete(f"/api/v1/automation-workflows/{flow['id']}", headers=headers)).status_code == 409
    check.remediation_type, check.workflow_id = "none", None
    await db.commit()
    assert (await client.delete(f"/api/v1/automation-workflows/{flow['id']}", headers=headers)).status_code == 204
    script_check = await db.scalar(select(ComplianceCheck).where(
        ComplianceCheck.template_id == uuid.UUID(copy.json()["id"]), ComplianceCheck.id != check.id).limit(1))
    script_check.remediation_type, script_check.script_id = "script", uuid.UUID(mine["id"])
    await db.commit()
    assert (await client.delete(f"/api/v1/scripts/{mine['id']}", headers=headers)).status_code == 409


async def failed_scan(db, org, *, status="fail", remediation_type="script", approval_mode="manual"):
    """A completed scan of one host whose check `1.1.1.1` ended with `status`."""
    template_id = await system_template_id(db)
    host = await make_host(db, org)
    policy = await db.scalar(select(CompliancePolicy).where(CompliancePolicy.org_id == org.id))
    if policy is None:
        policy = CompliancePolicy(org_id=org.id, os_type="linux", template_id=template_id,
                                  approval_mode=approval_mode)
        db.add(policy)
        await db.flush()
    check = await db.scalar(select(ComplianceCheck).where(ComplianceCheck.template_id == template_id,
                                                          ComplianceCheck.rule_id == "1.1.1.1"))
    if remediation_type != "script":
        check.remediation_type, check.script_id = remediation_type, None
    scan = ComplianceScan(org_id=org.id, host_id=host.id, policy_id=policy.id, template_id=template_id,
                          template_version=1, scan_type="scheduled", status="completed")
    db.add(scan)
    await db.flush()
    db.add(ScanResults(scan_id=scan.id, check_ids=[check.id], rule_ids=[check.rule_id], statuses=[status],
                       actuals=["x"], exception_ids=[None]))
    await db.commit()
    return scan, check


def fix_url(scan, check) -> str:
    return f"/api/v1/compliance/scans/{scan.id}/checks/{check.id}/fix"


async def test_one_click_fix_opens_a_change_when_the_policy_wants_approval(client, db):
    org, user, headers = await operator(client, db)
    org.automation_paused = True  # manual fixes ignore the kill switch
    scan, check = await failed_scan(db, org)
    response = await client.post(fix_url(scan, check), headers=headers)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["remediation"]["trigger"] == "manual" and body["remediation"]["status"] == "pending_approval"
    assert body["remediation"]["requested_by"] == str(user.id)
    change = body["change"]
    assert change["status"] == "pending_approval" and change["requested_by"] == str(user.id)
    assert change["details"]["what"]["fix"]["script"]["body"] and change["details"]["where"]["host_id"]
    assert (await client.post(fix_url(scan, check), headers=headers)).status_code == 409
    detail = (await client.get(f"/api/v1/compliance/scans/{scan.id}", headers=headers)).json()
    assert detail["results"][0]["remediation"]["status"] == "pending_approval"


async def test_one_click_fix_without_approval_has_no_change(client, db):
    org, _, headers = await operator(client, db)
    scan, check = await failed_scan(db, org, approval_mode="auto")
    response = await client.post(fix_url(scan, check), headers=headers)
    assert response.status_code == 202 and response.json()["change"] is None
    assert response.json()["remediation"]["status"] == "planned"


async def test_one_click_fix_refuses_checks_without_automation_or_that_did_not_fail(client, db):
    org, _, headers = await operator(client, db)
    scan, check = await failed_scan(db, org, remediation_type="manual")
    assert (await client.post(fix_url(scan, check), headers=headers)).status_code == 400
    check.remediation_type, check.script_id = "script", await db.scalar(
        select(Script.id).where(Script.org_id.is_(None)).limit(1))
    await db.commit()
    for status in ("pass", "skip", "error", "waived"):
        scan, check = await failed_scan(db, org, status=status)
        assert (await client.post(fix_url(scan, check), headers=headers)).status_code == 409


async def test_one_click_fix_rearms_a_remediation_held_back_by_the_kill_switch(client, db):
    org, _, headers = await operator(client, db)
    scan, check = await failed_scan(db, org, approval_mode="auto")
    db.add(Remediation(org_id=org.id, host_id=scan.host_id, policy_id=scan.policy_id, scan_id=scan.id,
                       check_id=check.id, rule_id=check.rule_id, trigger="automatic", status="skipped",
                       reason="automation_paused"))
    await db.commit()
    response = await client.post(fix_url(scan, check), headers=headers)
    assert response.status_code == 202
    assert (response.json()["remediation"]["trigger"], response.json()["remediation"]["status"]) == (
        "manual", "planned")


async def test_one_click_fix_of_another_orgs_scan_is_not_found(client, db):
    org, _, _ = await operator(client, db)
    _, _, stranger = await operator(client, db)
    _, _, viewer = await operator(client, db, org=org, role="viewer")
    scan, check = await failed_scan(db, org)
    assert (await client.post(fix_url(scan, check), headers=stranger)).status_code == 404
    assert (await client.post(fix_url(scan, check), headers=viewer)).status_code == 403


async def test_changes_are_decided_once_by_managers_of_their_org(client, db):
    org, user, headers = await operator(client, db)
    _, _, viewer = await operator(client, db, org=org, role="viewer")
    _, _, stranger = await operator(client, db)
    scan, check = await failed_scan(db, org)
    first = (await client.post(fix_url(scan, check), headers=headers)).json()["change"]

    listed = await client.get("/api/v1/changes", headers=headers, params={"status": "pending_approval"})
    assert listed.headers["X-Total-Count"] == "1" and listed.json()[0]["id"] == first["id"]
    assert (await client.get("/api/v1/changes", headers=headers,
                             params={"host_id": str(uuid.uuid4())})).json() == []
    assert (await client.get("/api/v1/changes", headers=stranger)).json() == []
    assert (await client.get(f"/api/v1/changes/{first['id']}", headers=stranger)).status_code == 404
    assert (await client.post(f"/api/v1/changes/{first['id']}/approve", headers=stranger,
                              json={})).status_code == 404
    assert (await client.post(f"/api/v1/changes/{first['id']}/approve", headers=viewer,
                              json={})).status_code == 403

    requester_decides = await client.post(f"/api/v1/changes/{first['id']}/approve", headers=headers, json={})
    assert requester_decides.status_code == 403 and "requester" in requester_decides.json()["detail"]
    _, cab_user, cab = await operator(client, db, org=org)

    approved = await client.post(f"/api/v1/changes/{first['id']}/approve", headers=cab, json={"reason": "CAB"})
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved" and approved.json()["decided_by"] == str(cab_user.id)
    assert approved.json()["decided_at"]
    assert (await client.post(f"/api/v1/changes/{first['id']}/approve", headers=cab,
                              json={})).status_code == 409
    assert (await client.post(f"/api/v1/changes/{first['id']}/reject", headers=cab,
                              json={"reason": "too late"})).status_code == 409

    scan2, check2 = await failed_scan(db, org)
    second = (await client.post(fix_url(scan2, check2), headers=headers)).json()["change"]
    assert (await client.post(f"/api/v1/changes/{second['id']}/reject", headers=cab,
                              json={})).status_code == 422
    rejected = await client.post(f"/api/v1/changes/{second['id']}/reject", headers=cab,
                                 json={"reason": "change freeze"})
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert rejected.json()["reason"] == "change freeze"
    assert (await client.post(f"/api/v1/changes/{second['id']}/approve", headers=cab,
                              json={})).status_code == 409
    stored = await db.get(ChangeRecord, uuid.UUID(second["id"]), populate_existing=True)
    assert stored.status == "rejected"
    actions = list(await db.scalars(select(AuditEntry.action).where(AuditEntry.target_type == "change")))
    assert sorted(actions) == ["change.approve", "change.reject"]
