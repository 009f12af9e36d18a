"""The vulnerability workflows on the time-skipping server, with the real worker, activities and database: the
daily feed sync (from a local server publishing the fixtures) and the 6-hourly matching with simulated hosts."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from agent.fleet import Fleet, Outcomes
from models import AgentJob, Cve, HostInventory, HostVulnerability, KevEntry, VulnFeedStatus
from orchestration.types import FeedSyncInput, MatchingInput, MatchingResult
from tests.e2e.test_scan_end_to_end import save_history
from tests.factories import make_org
from tests.services.test_vuln_matching import debian_inventory
from tests.stack import running_stack
from tests.vuln_feed_server import KEV_ETAG, FeedServer
from workflows.vuln_feed_sync import VulnFeedSyncWorkflow
from workflows.vuln_matching import VulnMatchingWorkflow


def skipping_stack(env, db_url, app_factory, **overrides):
    return running_stack(env, db_url, app_factory, temporal_search_attributes=False, **overrides)


async def enrollment_token(stack, db) -> tuple:
    from tests.factories import login, make_user

    org = await make_org(db)
    user = await make_user(db, org=org, role="admin")
    await db.commit()
    headers = await login(stack.api, user.username)
    token = (await stack.api.post(f"/api/v1/orgs/{org.id}/enrollment-tokens", json={"max_uses": 100},
                                  headers=headers)).json()["token"]
    return org, headers, token


async def test_feed_sync_imports_every_source_pages_nvd_and_then_matches(skipping_env, db_url, app_factory, db):
    with FeedServer() as feeds:
        async with skipping_stack(skipping_env, db_url, app_factory, **feeds.settings()) as stack:
            result = await stack.client.execute_workflow(
                VulnFeedSyncWorkflow.run, FeedSyncInput(inventory_timeout_seconds=5), id="vuln-feed-sync-t1",
                task_queue=stack.settings.temporal_task_queue)
            assert {o.source: (o.status, o.records) for o in result.outcomes} == {
                "nvd": ("ok", 3), "kev": ("ok", 2), "osv": ("ok", 6)}
            matching = await stack.client.get_workflow_handle(result.matching_workflow_id,
                                                              result_type=MatchingResult).result()
            assert result.matching_workflow_id.startswith("vuln-matching-after-sync-")
            assert matching.orgs == []
            await save_history(stack.client.get_workflow_handle("vuln-feed-sync-t1"), "vuln_feed_sync")

            nvd_calls = [q for path, q, _ in feeds.requests if path.startswith("/nvd/")]
            assert [q["startIndex"] for q in nvd_calls] == ["0", "2"]
            assert all(q["resultsPerPage"] == "2000" and "lastModStartDate" in q for q in nvd_calls)
            assert await db.scalar(select(func.count()).select_from(KevEntry)) == 2
            assert (await db.get(Cve, "CVE-2024-6387")).severity == "high"

            # The next day: the KEV catalog is unchanged (ETag), NVD reads on from where it stopped.
            again = await stack.client.execute_workflow(
                VulnFeedSyncWorkflow.run, FeedSyncInput(match_after=False), id="vuln-feed-sync-t2",
                task_queue=stack.settings.temporal_task_queue)
            assert {o.source: o.status for o in again.outcomes} == {"nvd": "ok", "kev": "not_modified",
                                                                    "osv": "ok"}
            kev_call = [h for path, _, h in feeds.requests if path == "/kev.json"][-1]
            assert kev_call.get("If-None-Match") == KEV_ETAG
            first_window, second_window = nvd_calls[0]["lastModEndDate"], [
                q for path, q, _ in feeds.requests if path.startswith("/nvd/")][-1]["lastModStartDate"]
            assert second_window == first_window


async def test_unreachable_source_leaves_a_clear_error_and_the_others_sync(skipping_env, db_url, app_factory, db):
    with FeedServer() as feeds:
        settings = feeds.settings() | {"vuln_kev_url": "http://127.0.0.1:1/kev.json",
                                       "vuln_osv_ecosystems": "Debian:12,Debian:11", "vuln_fetch_timeout_seconds": 3}
        async with skipping_stack(skipping_env, db_url, app_factory, **settings) as stack:
            result = await stack.client.execute_workflow(
                VulnFeedSyncWorkflow.run, FeedSyncInput(match_after=False), id="vuln-feed-sync-down",
                task_queue=stack.settings.temporal_task_queue)
    outcomes = {o.source: o for o in result.outcomes}
    assert outcomes["nvd"].status == "ok"
    assert outcomes["kev"].status == "error" and "http://127.0.0.1:1/kev.json is unreachable" in outcomes["kev"].error
    assert outcomes["osv"].status == "error" and "Debian:11/all.zip answered HTTP 404" in outcomes["osv"].error
    assert outcomes["osv"].records == 3  # Debian:12 was still imported
    kev = await db.get(VulnFeedStatus, "kev")
    assert kev.status == "error" and "unreachable" in kev.last_error and kev.last_success_at is None


async def test_matching_asks_online_hosts_and_opens_vulnerabilities(skipping_env, db_url, app_factory, db):
    with FeedServer() as feeds:
        async with skipping_stack(skipping_env, db_url, app_factory, **feeds.settings()) as stack:
            await stack.client.execute_workflow(
                VulnFeedSyncWorkflow.run, FeedSyncInput(match_after=False), id="vuln-feed-sync-m",
                task_queue=stack.settings.temporal_task_queue)
            org, _, token = await enrollment_token(stack, db)
            fleet = Fleet(stack.api, "http://test", Outcomes(inventory=debian_inventory()))
            answering = await fleet.enroll(2, token, prefix="inv")
            answering[1].inventory = debian_inventory(glibc="2.36-9+deb12u3")
            silent = Fleet(stack.api, "http://test", Outcomes(silent=True))
            (mute,) = await silent.enroll(1, token, prefix="mute")
            fleet.start(wait=1)
            silent.start(wait=1)
            try:
                result = await stack.client.execute_workflow(
                    VulnMatchingWorkflow.run, MatchingInput(inventory_timeout_seconds=4),
                    id="vuln-host-matching-t1", task_queue=stack.settings.temporal_task_queue)
            finally:
                await fleet.stop()
                await silent.stop()
            await save_history(stack.client.get_workflow_handle("vuln-host-matching-t1"), "vuln_matching")

    assert (result.hosts_asked, result.inventories_stored, result.inventories_timed_out) == (3, 2, 1)
    (matched,) = result.orgs
    assert (matched.org_id, matched.package_sets_matched, matched.opened) == (str(org.id), 2, 1)
    rows = (await db.execute(select(HostVulnerability.host_id, HostVulnerability.cve_id, HostVulnerability.status)
                             )).all()
    assert rows == [(uuid.UUID(answering[0].host_id), "CVE-2023-4911", "open")]
    assert await db.get(HostInventory, uuid.UUID(mute.host_id)) is None
    timed_out = await db.scalar(select(AgentJob.status).where(AgentJob.host_id == uuid.UUID(mute.host_id)))
    assert timed_out == "timed_out"
