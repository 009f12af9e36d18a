"""The scan engine end to end on the real dev server: agent enrollment, on-demand and scheduled scans, timeouts."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

from sqlalchemy import func, select

from agent.fleet import Fleet, Outcomes
from domain.scoring import compute_score, count_statuses
from models import AgentJob, ComplianceScan, ScanCheckResult
from tests.factories import login, make_org, make_user
from tests.stack import eventually, running_stack, system_template_id

HISTORIES = Path(__file__).resolve().parent.parent / "workflows" / "histories"


async def save_history(handle, name: str) -> None:
    """Keep a real history for the replay tests (refreshed with UPDATE_HISTORIES=1)."""
    path = HISTORIES / f"{name}.json"
    if path.exists() and not os.environ.get("UPDATE_HISTORIES"):
        return
    HISTORIES.mkdir(parents=True, exist_ok=True)
    history = await handle.fetch_history()
    path.write_text(json.dumps(json.loads(history.to_json()), indent=1))


async def setup_org(stack, db):
    org = await make_org(db)
    user = await make_user(db, org=org, role="operator")
    template_id = await system_template_id(db)
    await db.commit()
    headers = await login(stack.api, user.username)
    token = (await stack.api.post(f"/api/v1/orgs/{org.id}/enrollment-tokens", json={"max_uses": 100},
                                  headers=headers)).json()
    policy = await stack.api.post("/api/v1/compliance/policies", headers=headers, json={
        "org_id": str(org.id), "os_type": "linux", "template_id": str(template_id)})
    assert policy.status_code == 201, policy.text
    return org, headers, token["token"], policy.json()


async def test_on_demand_scan_is_answered_by_an_enrolled_agent_and_scored(dev_env, db_url, app_factory, db):
    async with running_stack(dev_env, db_url, app_factory) as stack:
        org, headers, token, policy = await setup_org(stack, db)
        outcomes = Outcomes(fail_rate=0.25, error_rate=0.05, skip_rate=0.05)
        fleet = Fleet(stack.api, "http://test", outcomes)
        (host,) = await fleet.enroll(1, token, prefix="e2e")
        fleet.start(wait=2)
        try:
            requested = await stack.api.post(f"/api/v1/compliance/policies/{policy['id']}/scan",
                                             json={"host_id": host.host_id}, headers=headers)
            assert requested.status_code == 202, requested.text
            scan = requested.json()
            assert scan["status"] == "queued" and scan["scan_type"] == "on_demand"
            again = await stack.api.post(f"/api/v1/compliance/policies/{policy['id']}/scan",
                                         json={"host_id": host.host_id}, headers=headers)
            assert again.json()["id"] == scan["id"]

            async def completed():
                body = (await stack.api.get(f"/api/v1/compliance/scans/{scan['id']}", headers=headers)).json()
                return body if body["status"] == "completed" else None

            done = await eventually(completed)
        finally:
            await fleet.stop()

        expected = count_statuses(outcomes.status(host.hostname, r["rule_id"]) for r in done["results"])
        assert (done["total"], done["passed"], done["failed"], done["errors"], done["skipped"]) == (
            expected.total, expected.passed, expected.failed, expected.errors, expected.skipped)
        assert done["total"] >= 40 and done["waived"] == 0
        assert done["score"] == compute_score(expected).score
        assert {r["status"] for r in done["results"]} <= {"pass", "fail", "error", "skip"}
        assert all(r["title"] and r["severity"] for r in done["results"])

        handle = stack.client.get_workflow_handle(f"scan-{scan['id']}")
        description = await handle.describe()
        assert description.typed_search_attributes  # OrgId, PolicyId, ScanType, HostId
        found = [w async for w in stack.client.list_workflows(f"HostId='{host.host_id}'")]
        assert [w.id for w in found] == [f"scan-{scan['id']}"]
        await save_history(handle, "scan_batch_on_demand")

        latest = (await stack.api.get(f"/api/v1/compliance/hosts/{host.host_id}", headers=headers)).json()
        assert latest[0]["scan"]["id"] == scan["id"]
        history = await stack.api.get(f"/api/v1/compliance/hosts/{host.host_id}/history", headers=headers)
        assert history.headers["X-Total-Count"] == "1"
        rows = await db.scalar(select(func.count()).select_from(ScanCheckResult)
                               .where(ScanCheckResult.scan_id == uuid.UUID(scan["id"])))
        assert rows == done["total"]


async def test_agent_that_never_answers_leaves_the_scan_in_error_agent_timeout(dev_env, db_url, app_factory, db):
    async with running_stack(dev_env, db_url, app_factory, agent_result_timeout_seconds=2) as stack:
        org, headers, token, policy = await setup_org(stack, db)
        fleet = Fleet(stack.api, "http://test", Outcomes(silent=True))
        (host,) = await fleet.enroll(1, token, prefix="mute")
        fleet.start(wait=1)
        try:
            scan = (await stack.api.post(f"/api/v1/compliance/policies/{policy['id']}/scan",
                                         json={"host_id": host.host_id}, headers=headers)).json()

            async def failed():
                body = (await stack.api.get(f"/api/v1/compliance/scans/{scan['id']}", headers=headers)).json()
                return body if body["status"] == "error" else None

            done = await eventually(failed, timeout=30)
        finally:
            await fleet.stop()
        assert done["error_reason"] == "agent_timeout" and done["score"] is None
        job = await db.scalar(select(AgentJob).where(AgentJob.scan_id == uuid.UUID(scan["id"])))
        assert job.status == "timed_out"

        # The agent finally answers: the result is kept, marked late, and changes nothing else.
        late = await host.api.post_result(str(job.id), host.answer({"kind": "compliance_check", "payload": {
            "checks": (await stack.api.get("/api/v1/agent/jobs", headers=host.api.headers)).json() and []}}))
        assert late == 200
        await db.refresh(job)
        assert job.late is True
        scan_row = await db.get(ComplianceScan, uuid.UUID(scan["id"]))
        await db.refresh(scan_row)
        assert scan_row.status == "error"
