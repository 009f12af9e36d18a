"""Security > Vulnerabilities in a real browser: feeds imported from the fixture documents, a Debian 12 host with an
inventory matched by the real matching code, the CVE list and detail, the host's packages, a deployment's rings,
and a viewer without mutation controls."""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from playwright.sync_api import Page, expect

from tests.browser.conftest import ConsoleStack
from tests.browser.console import axe_violations, screenshot, sign_in
from tests.services.test_vuln_matching import debian_inventory
from tests.unit.test_vuln_feeds import fixture

KEV_CVE = "CVE-2023-4911"  # glibc, in KEV; the inventory has 2.36-9+deb12u1, fixed in 2.36-9+deb12u3


def inventory_and_match(db_url: str, org_id: str, host_id: str) -> None:
    """The host answers an inventory job (stored as the API stores an agent's result), then its organization is
    matched, as VulnMatchingWorkflow's activities do. The simulated fleet answers inventory jobs `unsupported`, so
    inventory jobs a matching run opened earlier are let finish first: a later answer would replace this one."""
    from sqlalchemy import text

    from models import AgentJob
    from models.db import make_engine, make_sessionmaker
    from services import vuln_matching

    async def run() -> None:
        engine = make_engine(db_url, pool_size=1)
        try:
            for _ in range(120):
                async with make_sessionmaker(engine)() as session:
                    if not await session.scalar(text(
                            "SELECT count(*) FROM agent_jobs WHERE kind = 'inventory' AND host_id = :host "
                            "AND status IN ('pending', 'delivered')"), {"host": host_id}):
                        break
                await asyncio.sleep(0.5)
            async with make_sessionmaker(engine)() as session, session.begin():
                job = AgentJob(org_id=uuid.UUID(org_id), host_id=uuid.UUID(host_id), kind="inventory", payload={},
                               status="completed", result=debian_inventory(), completed_at=datetime.now(UTC))
                session.add(job)
                await session.flush()
                await vuln_matching.store_inventories(session, [job.id], [])
            async with make_sessionmaker(engine)() as session, session.begin():
                await vuln_matching.match_org(session, uuid.UUID(org_id), datetime.now(UTC))
        finally:
            await engine.dispose()

    with ThreadPoolExecutor(1) as thread:  # Playwright's sync API holds this thread's event loop
        thread.submit(asyncio.run, run()).result()


def test_cves_hosts_and_a_deployments_rings_render_for_an_operator_and_stay_read_only_for_a_viewer(
        page: Page, console_stack: ConsoleStack):
    stack, host_id = console_stack, console_stack.host_ids[0]
    with stack.client(stack.admin) as admin:
        for source, name in (("nvd", "nvd_page.json"), ("kev", "kev.json"), ("osv", "osv_debian.json")):
            imported = admin.post(f"/vulnerabilities/feeds/{source}/import", content=fixture(name),
                                  headers={"Content-Type": "application/json"})
            assert imported.status_code == 200, imported.text
    inventory_and_match(stack.db_url, stack.org_id, host_id)
    with stack.client(stack.operator) as operator:
        hostname = operator.get(f"/hosts/{host_id}").json()["hostname"]

    sign_in(page, stack.operator)
    page.get_by_role("navigation", name="Areas").get_by_role("button", name="Vulnerabilities").click()
    cves = page.get_by_role("table", name="Vulnerabilities")
    row = cves.get_by_role("row").filter(has_text=KEV_CVE)
    expect(row).to_contain_text("KEV")
    expect(row.get_by_role("cell", name="1 affected hosts")).to_be_visible()
    assert axe_violations(page) == []
    screenshot(page, "vulnerabilities-cves")

    row.get_by_role("link", name=KEV_CVE).click()
    expect(page).to_have_url(f"{stack.url}/vulnerabilities/cves/{KEV_CVE}")
    page.reload()  # the deep link survives a reload
    affected = page.get_by_role("table", name="Affected hosts")
    expect(affected).to_contain_text(hostname)
    expect(affected).to_contain_text("2.36-9+deb12u3")
    expect(page.get_by_role("table", name="Patches")).to_contain_text("glibc")
    screenshot(page, "vulnerabilities-cve-detail")

    affected.get_by_role("link", name=hostname).click()
    expect(page.get_by_role("table", name="Host vulnerabilities")).to_contain_text(KEV_CVE)
    expect(page.get_by_role("table", name="Installed packages")).to_contain_text("libc6")

    # A deployment through two rings; the fleet installs at once, so this comes after the inventory was shown.
    with stack.client(stack.operator) as operator:
        group = operator.post("/host-groups", json={"org_id": stack.org_id, "name": f"canary-{uuid.uuid4().hex[:6]}"})
        assert group.status_code == 201, group.text
        assert operator.post(f"/host-groups/{group.json()['id']}/members", json={"host_ids": [host_id]}).is_success
        rings = operator.post(f"/orgs/{stack.org_id}/ring-sets", json={"name": "Canary then the rest", "rings": [
            {"name": "Canary", "host_group_id": group.json()["id"], "soak_minutes": 30, "max_failure_rate": 0.1},
            {"name": "Everyone else", "host_group_id": None, "soak_minutes": 60, "max_failure_rate": 0.2}]})
        assert rings.status_code == 201, rings.text
        (patch,) = [p for p in operator.get("/patches", params={"org_id": stack.org_id}).json()
                    if p["package"] == "glibc"]
        deployment = operator.post("/patch-deployments", json={"org_id": stack.org_id, "patch_ids": [patch["id"]],
                                                               "ring_set_id": rings.json()["id"]})
        assert deployment.status_code == 201, deployment.text
    page.goto(f"/vulnerabilities/deployments/{deployment.json()['id']}")
    expect(page.get_by_text("Ring 1: Canary")).to_be_visible()
    expect(page.get_by_text("Ring 2: Everyone else")).to_be_visible()
    expect(page.get_by_role("progressbar", name="Ring 1 progress")).to_be_attached()
    # The canary's host gets its patch_install job; the simulated fleet installs and the page follows the rollout.
    expect(page.get_by_role("table", name="Ring 1 host jobs")).to_contain_text("succeeded", timeout=30_000)
    expect(page.get_by_role("table", name="Deployment patches")).to_contain_text("2.36-9+deb12u3")
    screenshot(page, "vulnerabilities-deployment")

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, stack.viewer)
    page.goto("/vulnerabilities/deployments")
    expect(page.get_by_role("table", name="Patch deployments")).to_contain_text("Canary then the rest")
    expect(page.get_by_role("button", name="New deployment")).to_have_count(0)
    page.goto("/vulnerabilities/policy")
    expect(page.get_by_role("table", name="Ring sets")).to_contain_text("Canary then the rest")
    expect(page.get_by_role("textbox", name="Minimum severity")).to_be_disabled()
    expect(page.get_by_role("button", name="Save policy")).to_have_count(0)
    expect(page.get_by_role("button", name="New ring set")).to_have_count(0)
