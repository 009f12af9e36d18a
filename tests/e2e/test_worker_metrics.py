"""The worker's metrics during a real scan: the product's figures and the Temporal SDK's own."""

from __future__ import annotations

import socket
from types import SimpleNamespace

import httpx
from prometheus_client.parser import text_string_to_metric_families
from temporalio.client import Client

from agent.fleet import Fleet, Outcomes
from observability import worker_metrics
from tests.conftest import make_settings
from tests.factories import login, make_org, make_user
from tests.stack import eventually, running_stack, system_template_id


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def scrape(url: str) -> dict[tuple[str, frozenset], float]:
    async with httpx.AsyncClient() as http:
        response = await http.get(url)
    assert response.status_code == 200, response.text
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def total(samples, name: str) -> float:
    return sum(value for (sample, _), value in samples.items() if sample == name)


async def test_a_recorded_scan_moves_the_worker_figures_and_the_sdk_metrics(dev_env, db_url, app_factory, db):
    settings = make_settings(db_url, worker_metrics_port=free_port(), worker_figures_port=free_port())
    client = await Client.connect(dev_env.client.service_client.config.target_host,
                                  runtime=worker_metrics.temporal_runtime(settings))
    async with running_stack(SimpleNamespace(client=client), db_url, app_factory) as stack, \
            worker_metrics.serving_figures(settings, stack.sessionmaker, max_age=0) as port:
        figures = f"http://127.0.0.1:{port}/metrics"
        org = await make_org(db)
        user = await make_user(db, org=org, role="operator")
        template_id = await system_template_id(db)
        await db.commit()
        headers = await login(stack.api, user.username)
        token = (await stack.api.post(f"/api/v1/orgs/{org.id}/enrollment-tokens", json={"max_uses": 10},
                                      headers=headers)).json()["token"]
        policy = (await stack.api.post("/api/v1/compliance/policies", headers=headers, json={
            "org_id": str(org.id), "os_type": "linux", "template_id": str(template_id)})).json()
        fleet = Fleet(stack.api, "http://test", Outcomes(fail_rate=0.3))
        (host,) = await fleet.enroll(1, token, prefix="metrics")
        before = await scrape(figures)

        scan = (await stack.api.post(f"/api/v1/compliance/policies/{policy['id']}/scan",
                                     json={"host_id": host.host_id}, headers=headers)).json()
        waiting = await eventually(lambda: _open_jobs(figures))  # no agent polls yet: the job waits
        fleet.start(wait=2)
        try:
            async def completed():
                body = (await stack.api.get(f"/api/v1/compliance/scans/{scan['id']}", headers=headers)).json()
                return body if body["status"] == "completed" else None

            done = await eventually(completed)
        finally:
            await fleet.stop()
        after = await scrape(figures)
        sdk = await scrape(f"http://127.0.0.1:{settings.worker_metrics_port}/metrics")
        api = {(s.name, frozenset(s.labels.items())): s.value for family in
               text_string_to_metric_families((await stack.api.get("/metrics")).text) for s in family.samples}

    recorded = ("compliance_scans_recorded_total", frozenset({("scan_type", "on_demand")}))
    assert after[recorded] == before.get(recorded, 0) + 1
    ingested = total(after, "compliance_check_results_ingested_total") - total(
        before, "compliance_check_results_ingested_total")
    assert ingested == done["total"] >= 40
    failed = ("compliance_check_results_ingested_total", frozenset({("status", "fail")}))
    assert after[failed] - before.get(failed, 0) == done["failed"] > 0
    assert waiting >= 1
    assert after[("compliance_agent_jobs_open", frozenset({("status", "pending")}))] == 0
    assert ("compliance_remediations", frozenset({("status", "planned")})) in after

    assert any(name.startswith("temporal_workflow_task") for name, _ in sdk)
    assert any(name.startswith("temporal_activity_execution") for name, _ in sdk)
    assert api[("compliance_agent_jobs_handed_out_total", frozenset())] >= 1


async def _open_jobs(url: str) -> float:
    return total(await scrape(url), "compliance_agent_jobs_open")
