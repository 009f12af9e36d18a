"""The agent gateway without Temporal in the way: enrollment, isolation between hosts, idempotent results."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from models import Agent, AgentJob, ComplianceCheck, CompliancePolicy, ComplianceScan, EnrollmentToken, Host
from tests.factories import login, make_org, make_user
from tests.stack import system_template_id


async def enroll(client, token: str, hostname: str, expected: int = 201) -> dict:
    response = await client.post("/api/v1/agent/enroll", json={
        "enrollment_token": token, "hostname": hostname, "os_type": "linux", "ip_address": "10.9.9.9"})
    assert response.status_code == expected, response.text
    return response.json()


async def org_with_token(client, db, org=None):
    """An organization (a new one unless given) and an enrollment token for ten agents."""
    org = org or await make_org(db)
    operator = await make_user(db, org=org, role="operator")
    await db.commit()
    headers = await login(client, operator.username)
    token = (await client.post(f"/api/v1/orgs/{org.id}/enrollment-tokens", json={"max_uses": 10},
                               headers=headers)).json()["token"]
    return org, token


async def open_check_job(db, org, host_id: uuid.UUID) -> tuple[AgentJob, list[ComplianceCheck]]:
    template_id = await system_template_id(db)
    policy = CompliancePolicy(org_id=org.id, os_type="linux", template_id=template_id)
    db.add(policy)
    await db.flush()
    scan = ComplianceScan(org_id=org.id, host_id=host_id, policy_id=policy.id, template_id=template_id,
                          template_version=1, scan_type="on_demand", status="running")
    db.add(scan)
    await db.flush()
    job = AgentJob(org_id=org.id, host_id=host_id, kind="compliance_check", scan_id=scan.id,
                   payload={"scan_id": str(scan.id), "template_id": str(template_id)})
    db.add(job)
    await db.commit()
    checks = (await db.scalars(select(ComplianceCheck).where(ComplianceCheck.template_id == template_id,
                                                            ComplianceCheck.enabled))).all()
    return job, list(checks)


async def test_enrollment_creates_the_host_and_a_hashed_agent_token(client, db):
    org, token = await org_with_token(client, db)
    body = await enroll(client, token, "web-01")
    host = await db.get(Host, uuid.UUID(body["host_id"]))
    assert host.org_id == org.id and host.hostname == "web-01" and host.last_seen is not None
    agent = await db.get(Agent, uuid.UUID(body["agent_id"]))
    assert agent.token_hash != body["agent_token"] and body["status"] == "active"

    beat = await client.post("/api/v1/agent/heartbeat", json={},
                             headers={"Authorization": f"Bearer {body['agent_token']}"})
    assert beat.status_code == 200


async def test_a_heartbeat_refreshes_the_hosts_facts_and_the_agents_version(client, db):
    _, token = await org_with_token(client, db)
    body = await enroll(client, token, "moved-01")
    beat = await client.post("/api/v1/agent/heartbeat",
                             json={"ip_address": "10.1.2.3", "os_version": "6.1.0-28", "agent_version": "0.2.0"},
                             headers={"Authorization": f"Bearer {body['agent_token']}"})
    assert beat.status_code == 200
    host = await db.get(Host, uuid.UUID(body["host_id"]), populate_existing=True)
    agent = await db.get(Agent, uuid.UUID(body["agent_id"]), populate_existing=True)
    assert (host.ip_address, host.os_version, agent.version) == ("10.1.2.3", "6.1.0-28", "0.2.0")


async def test_enrollment_refuses_bad_or_expired_tokens(client, db):
    org, token = await org_with_token(client, db)
    bad = await client.post("/api/v1/agent/enroll", json={
        "enrollment_token": "enr_not-a-real-token", "hostname": "x", "os_type": "linux", "ip_address": "1.1.1.1"})
    assert bad.status_code == 401
    stored = (await db.scalars(select(EnrollmentToken))).one()
    stored.expires_at = datetime.now(UTC) - timedelta(minutes=1)
    await db.commit()
    expired = await client.post("/api/v1/agent/enroll", json={
        "enrollment_token": token, "hostname": "x", "os_type": "linux", "ip_address": "1.1.1.1"})
    assert expired.status_code == 401
    garbage = await client.post("/api/v1/agent/enroll", json={"enrollment_token": token, "os_type": "plan9"})
    assert garbage.status_code == 422


async def test_jobs_are_delivered_only_to_their_host_and_results_are_idempotent(client, db):
    org, token = await org_with_token(client, db)
    mine = await enroll(client, token, "mine")
    other = await enroll(client, token, "other")
    mine_headers = {"Authorization": f"Bearer {mine['agent_token']}"}
    other_headers = {"Authorization": f"Bearer {other['agent_token']}"}
    job, checks = await open_check_job(db, org, uuid.UUID(mine["host_id"]))

    assert (await client.get("/api/v1/agent/jobs", headers=other_headers)).json() == []
    delivered = (await client.get("/api/v1/agent/jobs", headers=mine_headers)).json()
    assert [j["id"] for j in delivered] == [str(job.id)]
    payload = delivered[0]["payload"]
    assert delivered[0]["kind"] == "compliance_check" and payload["scan_id"] == str(job.scan_id)
    assert {c["check_id"] for c in payload["checks"]} == {str(c.id) for c in checks}
    assert set(payload["checks"][0]) == {"check_id", "rule_id", "title", "severity", "rule"}

    result = {"results": [{"check_id": c["check_id"], "status": "pass", "actual": "ok"} for c in payload["checks"]]}
    stolen = await client.post(f"/api/v1/agent/jobs/{job.id}/result", json=result, headers=other_headers)
    assert stolen.status_code == 404
    first = await client.post(f"/api/v1/agent/jobs/{job.id}/result", json=result, headers=mine_headers)
    assert first.status_code == 200 and first.json()["status"] == "accepted"
    changed = {"results": [{**r, "status": "fail"} for r in result["results"]]}
    second = await client.post(f"/api/v1/agent/jobs/{job.id}/result", json=changed, headers=mine_headers)
    assert second.status_code == 200 and second.json()["status"] == "duplicate"
    await db.refresh(job)
    assert job.status == "completed" and {r["status"] for r in job.result["results"]} == {"pass"}


async def test_garbage_results_are_rejected_without_writing(client, db):
    org, token = await org_with_token(client, db)
    mine = await enroll(client, token, "mine")
    headers = {"Authorization": f"Bearer {mine['agent_token']}"}
    job, checks = await open_check_job(db, org, uuid.UUID(mine["host_id"]))
    cases = [
        {"results": [{"check_id": str(checks[0].id), "status": "maybe"}]},
        {"results": [{"check_id": str(uuid.uuid4()), "status": "pass"}]},
        {"results": [{"check_id": str(checks[0].id), "status": "pass"}] * 2},
        {"results": "nope"},
        {"status": "success"},
    ]
    for body in cases:
        response = await client.post(f"/api/v1/agent/jobs/{job.id}/result", json=body, headers=headers)
        assert response.status_code == 422, (body, response.text)
    await db.refresh(job)
    assert job.status == "pending" and job.result is None
    assert (await client.post(f"/api/v1/agent/jobs/{uuid.uuid4()}/result", json={"results": []},
                              headers=headers)).status_code == 404
    assert (await client.get("/api/v1/agent/jobs", headers={"Authorization": "Bearer nope"})).status_code == 401


async def test_result_for_a_timed_out_job_is_kept_and_marked_late(client, db):
    org, token = await org_with_token(client, db)
    mine = await enroll(client, token, "mine")
    headers = {"Authorization": f"Bearer {mine['agent_token']}"}
    job, checks = await open_check_job(db, org, uuid.UUID(mine["host_id"]))
    job.status = "timed_out"
    await db.commit()
    body = {"results": [{"check_id": str(checks[0].id), "status": "pass", "actual": "late"}]}
    response = await client.post(f"/api/v1/agent/jobs/{job.id}/result", json=body, headers=headers)
    assert response.json()["status"] == "late"
    await db.refresh(job)
    assert job.late and job.status == "timed_out" and job.result["results"][0]["actual"] == "late"


async def test_result_is_kept_when_temporal_is_unreachable(client, db):
    org, token = await org_with_token(client, db)
    mine = await enroll(client, token, "mine")
    headers = {"Authorization": f"Bearer {mine['agent_token']}"}
    job, checks = await open_check_job(db, org, uuid.UUID(mine["host_id"]))
    job.task_token = b"token-of-a-waiting-activity"
    await db.commit()
    body = {"results": [{"check_id": str(c.id), "status": "pass"} for c in checks]}
    response = await client.post(f"/api/v1/agent/jobs/{job.id}/result", json=body, headers=headers)
    assert response.status_code == 200 and response.json()["status"] == "accepted"
    await db.refresh(job)
    assert job.status == "completed" and job.completion_pending is True


async def test_oversized_result_is_refused_with_413(app_factory, db):
    client = await app_factory(max_request_bytes=2048)
    org, token = await org_with_token(client, db)
    mine = await enroll(client, token, "mine")
    headers = {"Authorization": f"Bearer {mine['agent_token']}"}
    response = await client.post(f"/api/v1/agent/jobs/{uuid.uuid4()}/result", headers=headers,
                                 json={"results": [{"check_id": str(uuid.uuid4()), "status": "pass",
                                                    "actual": "x" * 3000}]})
    assert response.status_code == 413 and "detail" in response.json()
