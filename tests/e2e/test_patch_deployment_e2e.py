"""Patch deployments end to end on the Temporal dev server: feeds imported from the fixtures, simulated Debian 12
hosts with a vulnerable glibc (CVE-2023-4911, in KEV) → matching opens host vulnerabilities, alerts and one
incident per host → the automatic deployment rolls out ring by ring, the agents install and report the fixed
version → vulnerabilities, alerts and incidents resolved. Then the kill switch (automatic skipped, manual runs),
a halting ring, and a deployment that waits for a second person's approval."""

from __future__ import annotations

import uuid

from agent.fleet import Fleet, Outcomes
from orchestration import ids
from orchestration.types import MatchingInput
from tests.e2e.test_scan_end_to_end import save_history
from tests.factories import login, make_org, make_user
from tests.services.test_vuln_matching import debian_inventory
from tests.stack import eventually, running_stack
from tests.unit.test_vuln_feeds import fixture, osv_zip
from workflows.vuln_matching import VulnMatchingWorkflow

FIXED_GLIBC = "2.36-9+deb12u3"


async def import_feeds(api, admin_h) -> None:
    for source, body, kind in (("nvd", fixture("nvd_page.json"), "application/json"),
                               ("kev", fixture("kev.json"), "application/json"),
                               ("osv", osv_zip("osv_debian.json", "osv_ubuntu.json"), "application/zip")):
        response = await api.post(f"/api/v1/vulnerabilities/feeds/{source}/import", content=body,
                                  headers=admin_h | {"Content-Type": kind})
        assert response.status_code == 200, response.text


async def match(stack) -> None:
    await stack.client.execute_workflow(
        VulnMatchingWorkflow.run, MatchingInput(inventory_timeout_seconds=30, search_attributes=True),
        id=f"vuln-host-matching-e2e-{uuid.uuid4().hex[:6]}", task_queue=stack.settings.temporal_task_queue)


async def ring_set(api, headers, org_id, rings) -> str:
    response = await api.post(f"/api/v1/orgs/{org_id}/ring-sets", json={"name": f"rings-{uuid.uuid4().hex[:6]}",
                                                                        "rings": rings}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def group_of(api, headers, org_id, hosts) -> str:
    group = (await api.post("/api/v1/host-groups", json={"org_id": str(org_id), "name": uuid.uuid4().hex[:8]},
                            headers=headers)).json()
    response = await api.post(f"/api/v1/host-groups/{group['id']}/members",
                              json={"host_ids": [h.host_id for h in hosts]}, headers=headers)
    assert response.status_code == 200, response.text
    return group["id"]


async def deployment_when(api, headers, deployment_id, *statuses, timeout=60):
    async def probe():
        found = (await api.get(f"/api/v1/patch-deployments/{deployment_id}", headers=headers)).json()
        return found if found["status"] in statuses else None

    return await eventually(probe, timeout=timeout)


async def test_kev_vulnerability_is_patched_ring_by_ring_and_everything_resolves(dev_env, db_url, app_factory, db):
    async with running_stack(dev_env, db_url, app_factory) as stack:
        org = await make_org(db)
        admin, operator = await make_user(db, is_admin=True), await make_user(db, org=org, role="operator")
        await db.commit()
        admin_h, op_h = await login(stack.api, admin.username), await login(stack.api, operator.username)
        await import_feeds(stack.api, admin_h)
        token = (await stack.api.post(f"/api/v1/orgs/{org.id}/enrollment-tokens", json={"max_uses": 10},
                                      headers=admin_h)).json()["token"]
        fleet = Fleet(stack.api, "http://test", Outcomes(inventory=debian_inventory()))
        canary, rest = await fleet.enroll(2, token, prefix="patch")
        canary_group = await group_of(stack.api, op_h, org.id, [canary])
        rings = await ring_set(stack.api, op_h, org.id, [
            {"name": "canary", "host_group_id": canary_group, "soak_minutes": 0, "max_failure_rate": 0},
            {"name": "everyone else", "soak_minutes": 0, "max_failure_rate": 0.5}])
        policy = await stack.api.put(f"/api/v1/orgs/{org.id}/vulnerability-policy", headers=op_h, json={
            "min_severity": "high", "kev_always": True, "auto_deploy": True, "auto_approve_min_severity": "critical",
            "ring_set_id": rings})
        assert policy.status_code == 200, policy.text

        fleet.start(wait=1)
        try:
            await match(stack)
            alerts = (await stack.api.get(f"/api/v1/alerts?org_id={org.id}", headers=op_h)).json()
            assert sorted((a["source"], a["cve_id"], a["severity"]) for a in alerts) == [
                ("vulnerabilities", "CVE-2023-4911", "critical")] * 2
            (deployment,) = (await stack.api.get(f"/api/v1/patch-deployments?org_id={org.id}", headers=op_h)).json()
            assert deployment["automatic"] and not deployment["needs_approval"]
            done = await deployment_when(stack.api, op_h, deployment["id"], "completed", "halted", "cancelled")
        finally:
            await fleet.stop()

        assert done["status"] == "completed", done
        assert [(r["name"], r["status"], [(h["hostname"], h["status"]) for h in r["host_jobs"]])
                for r in done["rings"]] == [("canary", "done", [("patch-00000", "succeeded")]),
                                            ("everyone else", "done", [("patch-00001", "succeeded")])]
        first, second = done["rings"][0]["host_jobs"][0], done["rings"][1]["host_jobs"][0]
        assert first["completed_at"] < second["completed_at"]
        assert {p["name"]: p["version"] for p in second["installed"]} == {"libc-bin": FIXED_GLIBC,
                                                                          "libc6": FIXED_GLIBC}
        for host in (canary, rest):
            (vuln,) = (await stack.api.get(f"/api/v1/hosts/{host.host_id}/vulnerabilities", headers=op_h)).json()
            assert (vuln["status"], vuln["installed_version"]) == ("resolved", FIXED_GLIBC)
        alerts = (await stack.api.get(f"/api/v1/alerts?org_id={org.id}", headers=op_h)).json()
        assert all(a["resolved_at"] for a in alerts) and len(alerts) == 2
        incidents = (await stack.api.get(f"/api/v1/incidents?org_id={org.id}", headers=op_h)).json()
        assert sorted((i["source"], i["status"]) for i in incidents) == [("vulnerabilities", "resolved")] * 2

        await save_history(stack.client.get_workflow_handle(ids.patch_deployment(deployment["id"])),
                           "patch_deployment")


async def test_kill_switch_halting_ring_and_second_person_approval(dev_env, db_url, app_factory, db):
    async with running_stack(dev_env, db_url, app_factory) as stack:
        org = await make_org(db)
        admin = await make_user(db, is_admin=True)
        requester, approver = await make_user(db, org=org), await make_user(db, org=org)
        await db.commit()
        admin_h = await login(stack.api, admin.username)
        req_h, appr_h = await login(stack.api, requester.username), await login(stack.api, approver.username)
        await import_feeds(stack.api, admin_h)
        token = (await stack.api.post(f"/api/v1/orgs/{org.id}/enrollment-tokens", json={"max_uses": 10},
                                      headers=admin_h)).json()["token"]
        fleet = Fleet(stack.api, "http://test", Outcomes(inventory=debian_inventory()))
        steady, flaky, ssh = await fleet.enroll(3, token, prefix="paused")
        flaky.patch_install_fails = True
        ssh.inventory = debian_inventory(glibc=FIXED_GLIBC, openssh="1:9.2p1-2+deb12u2")
        flaky_group = await group_of(stack.api, req_h, org.id, [flaky])
        auto_rings = await ring_set(stack.api, req_h, org.id, [{"name": "all", "soak_minutes": 0}])
        halting = await ring_set(stack.api, req_h, org.id, [
            {"name": "flaky first", "host_group_id": flaky_group, "soak_minutes": 0, "max_failure_rate": 0},
            {"name": "the rest", "soak_minutes": 0, "max_failure_rate": 0}])
        # Only the KEV CVE qualifies; every patch below critical needs approval.
        await stack.api.put(f"/api/v1/orgs/{org.id}/vulnerability-policy", headers=req_h, json={
            "min_severity": "critical", "kev_always": True, "auto_deploy": True,
            "auto_approve_min_severity": "critical", "ring_set_id": auto_rings})
        assert (await stack.api.patch(f"/api/v1/orgs/{org.id}", json={"automation_paused": True},
                                      headers=admin_h)).status_code == 200

        fleet.start(wait=1)
        try:
            await match(stack)
            (automatic,) = (await stack.api.get(f"/api/v1/patch-deployments?org_id={org.id}", headers=req_h)).json()
            skipped = await deployment_when(stack.api, req_h, automatic["id"], "skipped_paused", "completed")
            assert (skipped["status"], skipped["reason"]) == ("skipped_paused", "automation_paused")
            assert {h["status"] for r in skipped["rings"] for h in r["host_jobs"]} == {"skipped"}

            patches = {(p["package"], p["ecosystem"]): p["id"] for p in
                       (await stack.api.get(f"/api/v1/patches?org_id={org.id}", headers=req_h)).json()}
            glibc, openssh = patches[("glibc", "Debian:12")], patches[("openssh", "Debian:12")]

            # A manual deployment runs despite the kill switch; its first ring fails over its limit and halts.
            manual = await stack.api.post("/api/v1/patch-deployments", headers=req_h, json={
                "org_id": str(org.id), "patch_ids": [glibc], "ring_set_id": halting})
            assert manual.status_code == 201, manual.text
            halted = await deployment_when(stack.api, req_h, manual.json()["id"], "halted", "completed")
            assert halted["status"] == "halted" and "1 of 1" in halted["reason"]
            assert [(r["status"], [h["status"] for h in r["host_jobs"]]) for r in halted["rings"]] == [
                ("halted", ["failed"]), ("skipped", ["skipped"])]

            # Below the auto-approve severity: a change record waits for someone other than the requester.
            gated = await stack.api.post("/api/v1/patch-deployments", headers=req_h, json={
                "org_id": str(org.id), "patch_ids": [openssh], "ring_set_id": halting})
            assert gated.status_code == 201, gated.text
            waiting = await deployment_when(stack.api, req_h, gated.json()["id"], "pending_approval")

            async def change_opened():
                return (await stack.api.get(f"/api/v1/patch-deployments/{waiting['id']}", headers=req_h)).json()[
                    "change_id"]

            change_id = await eventually(change_opened)
            assert (await stack.api.post(f"/api/v1/changes/{change_id}/approve", headers=req_h)).status_code == 403
            assert (await stack.api.get(f"/api/v1/patch-deployments/{waiting['id']}",
                                        headers=req_h)).json()["status"] == "pending_approval"
            approved = await stack.api.post(f"/api/v1/changes/{change_id}/approve", headers=appr_h)
            assert approved.status_code == 200, approved.text
            done = await deployment_when(stack.api, req_h, waiting["id"], "completed", "halted", "cancelled")
        finally:
            await fleet.stop()
        assert (done["status"], done["change_status"]) == ("completed", "completed"), done
        (fixed,) = (await stack.api.get(f"/api/v1/hosts/{ssh.host_id}/vulnerabilities", headers=req_h)).json()
        assert (fixed["cve_id"], fixed["status"]) == ("CVE-2024-6387", "resolved")
        await save_history(stack.client.get_workflow_handle(ids.patch_deployment(waiting["id"])),
                           "patch_deployment_approved")
