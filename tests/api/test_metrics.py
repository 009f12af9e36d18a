"""The API's Prometheus endpoint: requests counted under route templates, latency, agent polls."""

from __future__ import annotations

import uuid

from prometheus_client.parser import text_string_to_metric_families

from models import AgentJob, CompliancePolicy, ComplianceScan
from services.scans import notify_jobs
from tests.factories import login, make_org, make_user
from tests.stack import system_template_id


async def scrape(client) -> dict[tuple[str, frozenset], float]:
    """Every sample of /metrics, keyed by name and labels."""
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def value(samples, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_requests_are_counted_by_route_template_and_status(client, db):
    org = await make_org(db)
    user = await make_user(db, org=org, role="operator")
    await db.commit()
    headers = await login(client, user.username)
    before = await scrape(client)

    missing = uuid.uuid4()
    assert (await client.get(f"/api/v1/hosts/{missing}", headers=headers)).status_code == 404
    assert (await client.get(f"/api/v1/hosts/{uuid.uuid4()}", headers=headers)).status_code == 404
    assert (await client.get(f"/api/v1/hosts/{missing}")).status_code == 401
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get("/api/v1/healthz")).status_code == 200
    assert (await client.get(f"/no/such/{missing}")).status_code == 404
    after = await scrape(client)

    host = "/api/v1/hosts/{host_id}"
    assert value(after, "compliance_http_requests_total", method="GET", route=host, status="404") == 2
    assert value(after, "compliance_http_requests_total", method="GET", route=host, status="401") == 1
    assert value(after, "compliance_http_request_duration_seconds_count", method="GET", route=host) == 3
    # One route object included under two prefixes is counted under each of its templates.
    for route in ("/healthz", "/api/v1/healthz"):
        assert value(after, "compliance_http_requests_total", method="GET", route=route, status="200") == 1
    assert value(after, "compliance_http_requests_total", method="GET", route="unmatched", status="404") == 1
    # The first scrape is itself a request, counted by the second.
    assert value(after, "compliance_http_requests_total", method="GET", route="/metrics", status="200") == (
        value(before, "compliance_http_requests_total", method="GET", route="/metrics", status="200") + 1)
    assert value(before, "compliance_http_requests_total", method="GET", route=host, status="404") == 0
    routes = {dict(labels).get("route") for _, labels in after}
    assert not any(str(missing) in (route or "") for route in routes)


async def test_metrics_are_open_like_healthz_and_kept_out_of_the_api_schema(client):
    response = await client.get("/metrics")
    assert response.status_code == 200 and "compliance_http_requests" in response.text
    assert "process_resident_memory_bytes" in response.text or "python_info" in response.text
    assert "/metrics" not in (await client.get("/openapi.json")).json()["paths"]


async def test_agent_polls_count_the_jobs_handed_out(client, db):
    org = await make_org(db)
    operator = await make_user(db, org=org, role="operator")
    await db.commit()
    headers = await login(client, operator.username)
    token = (await client.post(f"/api/v1/orgs/{org.id}/enrollment-tokens", json={},
                               headers=headers)).json()["token"]
    enrolled = (await client.post("/api/v1/agent/enroll", json={
        "enrollment_token": token, "hostname": "metrics-01", "os_type": "linux", "ip_address": "10.9.9.9"})).json()
    agent = {"Authorization": f"Bearer {enrolled['agent_token']}"}
    for os_type, key in (("linux", "cis-linux-l1"), ("windows", "cis-windows-l1")):  # one open scan per policy
        await open_scan_job(db, org.id, uuid.UUID(enrolled["host_id"]), os_type, key)
    await db.commit()

    handed = await client.get("/api/v1/agent/jobs", headers=agent)
    assert len(handed.json()) == 2
    assert (await client.get("/api/v1/agent/jobs", headers=agent)).json() == []
    assert (await client.get("/api/v1/agent/jobs")).status_code == 401
    samples = await scrape(client)

    assert value(samples, "compliance_agent_polls_total", outcome="jobs") == 1
    assert value(samples, "compliance_agent_polls_total", outcome="empty") == 1
    assert value(samples, "compliance_agent_polls_total", outcome="rejected") == 1
    assert value(samples, "compliance_agent_jobs_handed_out_total") == 2
    assert value(samples, "compliance_http_requests_total", method="GET", route="/api/v1/agent/jobs",
                 status="200") == 2

    # A result post that carries the next poll hands out the job opened meanwhile; it is no poll of its own.
    await open_scan_job(db, org.id, uuid.UUID(enrolled["host_id"]), "bsd", "cis-bsd-l1")
    await notify_jobs(db, {uuid.UUID(enrolled["host_id"])})  # as opening a scan batch does
    await db.commit()
    posted = await client.post(f"/api/v1/agent/jobs/{handed.json()[0]['id']}/result?wait=5",
                               json={"results": []}, headers=agent)
    assert posted.status_code == 200 and len(posted.json()["next_jobs"]) == 1
    samples = await scrape(client)
    assert value(samples, "compliance_agent_jobs_handed_out_total") == 3
    assert value(samples, "compliance_agent_polls_total", outcome="jobs") == 1


async def open_scan_job(db, org_id: uuid.UUID, host_id: uuid.UUID, os_type: str, template_key: str) -> None:
    """A running on-demand scan of the host under a new policy, with its pending agent job."""
    template_id = await system_template_id(db, template_key)
    policy = CompliancePolicy(org_id=org_id, os_type=os_type, template_id=template_id)
    db.add(policy)
    await db.flush()
    scan = ComplianceScan(org_id=org_id, host_id=host_id, policy_id=policy.id, template_id=template_id,
                          template_version=1, scan_type="on_demand", status="running")
    db.add(scan)
    await db.flush()
    db.add(AgentJob(org_id=org_id, host_id=host_id, kind="compliance_check", scan_id=scan.id,
                    payload={"scan_id": str(scan.id), "template_id": str(template_id)}))
