"""End to end on the Temporal dev server: feeds imported from the fixtures through the API (and the CLI), a
simulated Debian 12 host reports a vulnerable glibc (a KEV CVE), matching opens a host vulnerability that the
API shows; the schedules exist and the match endpoint runs one."""

from __future__ import annotations

import subprocess
import sys
import uuid

from sqlalchemy import select

from agent.fleet import Fleet, Outcomes
from models import Cve
from orchestration import ids
from orchestration.types import MatchingInput
from tests.conftest import ROOT
from tests.factories import login, make_org, make_user
from tests.services.test_vuln_matching import debian_inventory
from tests.stack import eventually, running_stack
from tests.unit.test_vuln_feeds import FIXTURES, fixture, osv_zip
from workflows.vuln_matching import VulnMatchingWorkflow


async def test_kev_cve_on_a_simulated_host_opens_a_host_vulnerability(dev_env, db_url, app_factory, db):
    async with running_stack(dev_env, db_url, app_factory) as stack:
        org, other = await make_org(db), await make_org(db)
        admin = await make_user(db, is_admin=True)
        viewer = await make_user(db, org=org, role="viewer")
        outsider = await make_user(db, org=other, role="admin")
        operator = await make_user(db, org=org, role="admin")
        await db.commit()
        admin_h, viewer_h = await login(stack.api, admin.username), await login(stack.api, viewer.username)
        outsider_h, operator_h = await login(stack.api, outsider.username), await login(stack.api, operator.username)

        for source, body, kind in (("nvd", fixture("nvd_page.json"), "application/json"),
                                   ("kev", fixture("kev.json"), "application/json"),
                                   ("osv", osv_zip("osv_debian.json", "osv_ubuntu.json"), "application/zip")):
            assert (await stack.api.post(f"/api/v1/vulnerabilities/feeds/{source}/import", content=body,
                                         headers=viewer_h | {"Content-Type": kind})).status_code == 403
            response = await stack.api.post(f"/api/v1/vulnerabilities/feeds/{source}/import", content=body,
                                            headers=admin_h | {"Content-Type": kind})
            assert response.status_code == 200, response.text
        feeds = (await stack.api.get("/api/v1/vulnerabilities/feeds", headers=viewer_h)).json()
        assert {f["source"]: (f["status"], f["stored"]) for f in feeds} == {
            "nvd": ("imported", 3), "kev": ("imported", 2), "osv": ("imported", 6)}

        token = (await stack.api.post(f"/api/v1/orgs/{org.id}/enrollment-tokens", json={"max_uses": 10},
                                      headers=operator_h)).json()["token"]
        fleet = Fleet(stack.api, "http://test", Outcomes(inventory=debian_inventory()))
        vulnerable, patched = await fleet.enroll(2, token, prefix="deb12")
        patched.inventory = debian_inventory(glibc="2.36-9+deb12u3")
        fleet.start(wait=1)
        try:
            result = await stack.client.execute_workflow(
                VulnMatchingWorkflow.run, MatchingInput(inventory_timeout_seconds=30),
                id=f"vuln-host-matching-e2e-{uuid.uuid4().hex[:6]}", task_queue=stack.settings.temporal_task_queue)
        finally:
            await fleet.stop()
        assert result.hosts_asked == 2 and result.inventories_stored == 2
        assert result.orgs[0].opened == 1

        host_vulns = await stack.api.get(f"/api/v1/hosts/{vulnerable.host_id}/vulnerabilities", headers=viewer_h)
        assert host_vulns.headers["X-Total-Count"] == "1"
        (found,) = host_vulns.json()
        assert (found["cve_id"], found["package"], found["installed_version"], found["fixed_version"],
                found["status"], found["kev"], found["severity"]) == (
            "CVE-2023-4911", "glibc", "2.36-9+deb12u1", "2.36-9+deb12u3", "open", True, "high")
        assert (await stack.api.get(f"/api/v1/hosts/{patched.host_id}/vulnerabilities",
                                    headers=viewer_h)).json() == []

        cves = await stack.api.get("/api/v1/vulnerabilities?kev=true", headers=viewer_h)
        assert [(c["cve_id"], c["kev"], c["affected_hosts"]) for c in cves.json()] == [("CVE-2023-4911", True, 1)]
        detail = (await stack.api.get("/api/v1/vulnerabilities/CVE-2023-4911", headers=viewer_h)).json()
        assert [h["hostname"] for h in detail["hosts"]] == ["deb12-00000"]
        assert {(p["ecosystem"], p["fixed_version"]) for p in detail["patches"]} == {
            ("Debian:12", "2.36-9+deb12u3"), ("Ubuntu:22.04:LTS", "2.35-0ubuntu3.4")}
        packages = await stack.api.get(f"/api/v1/hosts/{vulnerable.host_id}/packages?page_size=2", headers=viewer_h)
        assert packages.headers["X-Total-Count"] == "4" and len(packages.json()) == 2
        patches = (await stack.api.get("/api/v1/patches", headers=viewer_h)).json()
        assert [(p["package"], p["hosts"]) for p in patches] == [("glibc", 1)]

        # Another organization sees none of it.
        assert (await stack.api.get(f"/api/v1/hosts/{vulnerable.host_id}/packages",
                                    headers=outsider_h)).status_code == 404
        assert (await stack.api.get("/api/v1/vulnerabilities", headers=outsider_h)).json() == []

        # The schedules exist, and the match endpoint runs one matching now.
        await stack.api.app.state.gateway.ensure_vuln_schedules()
        for schedule_id in (ids.VULN_FEED_SYNC_SCHEDULE, ids.VULN_MATCHING_SCHEDULE):
            description = await stack.client.get_schedule_handle(schedule_id).describe()
            assert description.schedule.action.workflow in (ids.VULN_FEED_SYNC_WORKFLOW, ids.VULN_MATCHING_WORKFLOW)
        assert (await stack.api.post("/api/v1/vulnerabilities/match", headers=admin_h)).status_code == 202

        async def matched_by_schedule():
            runs = [w async for w in stack.client.list_workflows(
                f"WorkflowType = '{ids.VULN_MATCHING_WORKFLOW}' AND ExecutionStatus = 'Completed'")]
            return [w for w in runs if w.id.startswith(ids.VULN_MATCHING)]

        await eventually(matched_by_schedule, timeout=60)
        await stack.client.get_schedule_handle(ids.VULN_FEED_SYNC_SCHEDULE).delete()
        await stack.client.get_schedule_handle(ids.VULN_MATCHING_SCHEDULE).delete()


async def test_cli_imports_the_documents(db_url, db):
    env = {"DATABASE_URL": db_url, "ENVIRONMENT": "test", "PATH": "/usr/bin:/bin"}
    completed = subprocess.run([sys.executable, "-m", "services.vuln_import", "nvd", str(FIXTURES / "nvd_page.json")],
                               cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert "3 records written" in completed.stdout
    assert (await db.scalar(select(Cve.severity).where(Cve.cve_id == "CVE-2024-3094"))) == "critical"
