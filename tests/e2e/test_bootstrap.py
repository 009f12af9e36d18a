"""`compliance bootstrap` prepares a fresh database and a Temporal server that has none of the product's search
attributes; run twice it changes nothing more; then the product scans a host (its workflows carry the attributes).
Two worker processes share the task queues the way `--scale worker=2` runs them."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from types import SimpleNamespace

import psycopg
import pytest
from temporalio.client import Client

from agent.fleet import Fleet, Outcomes
from models.db import with_database
from orchestration import search_attributes as sa
from stack.ports import free_port
from stack.temporal import start_dev_server
from tests.stack import eventually, running_stack

ROOT = Path(__file__).resolve().parents[2]
ADMIN_PASSWORD = "Bootstrap-admin-pass-42"


@pytest.fixture
def fresh_database(pg_admin_url):
    name = f"cops_boot_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield with_database(pg_admin_url, name)
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def bare_temporal(tmp_path):
    """A dev server started without the product's search attributes, as a production server starts."""
    port = free_port()
    server = start_dev_server(port=port, ui_port=free_port(), headless=True, search_attributes=False,
                              log_file=tmp_path / "temporal.log")
    yield f"127.0.0.1:{port}"
    server.terminate()
    server.wait(timeout=30)


def run_bootstrap(database_url: str, temporal: str, queue: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, DATABASE_URL=database_url, TEMPORAL_ADDRESS=temporal, TEMPORAL_TASK_QUEUE=queue,
               ENVIRONMENT="production", JWT_SECRET="bootstrap-test-secret-0123456789abcdef",
               COMPLIANCE_ADMIN_PASSWORD=ADMIN_PASSWORD)
    return subprocess.run([sys.executable, "-m", "stack.cli", "bootstrap"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=180)


async def test_bootstrap_twice_on_a_bare_server_then_a_scan_runs_with_search_attributes(
        fresh_database, bare_temporal, app_factory):
    queue = f"boot-{uuid.uuid4().hex[:6]}"
    client = await Client.connect(bare_temporal)
    with pytest.raises(Exception, match="PolicyId|search attribute"):  # what a start fails with before
        await client.start_workflow("NoSuchWorkflow", id="probe", task_queue="nowhere",
                                    search_attributes=sa.scan_attributes("o", "p", "scheduled"))

    first = run_bootstrap(fresh_database, bare_temporal, queue)
    assert first.returncode == 0, first.stderr
    assert "OrgId, PolicyId, ScanType, HostId" in first.stdout and "first administrator 'admin' created" in first.stdout
    second = run_bootstrap(fresh_database, bare_temporal, queue)
    assert second.returncode == 0, second.stderr
    assert "already registered" in second.stdout and "system templates added: 0" in second.stdout
    assert "administrator exists" in second.stdout
    for name in ("compliance-scan-cycle", "vuln-feed-sync", "vuln-host-matching"):
        schedule = await client.get_schedule_handle(name).describe()
        assert schedule.schedule.action.task_queue == queue, name

    async with running_stack(SimpleNamespace(client=client), fresh_database, app_factory,
                             temporal_task_queue=queue, temporal_search_attributes=True,
                             database_url=fresh_database) as stack:
        api = stack.api
        login = await api.post("/api/v1/auth/token", data={"username": "admin", "password": ADMIN_PASSWORD})
        assert login.status_code == 200, login.text
        token = login.json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        (org,) = (await api.get("/api/v1/orgs", headers=headers)).json()
        templates = (await api.get("/api/v1/compliance/templates", headers=headers,
                                   params={"os_type": "linux", "page_size": 100})).json()
        assert len([t for t in templates if t["is_system"]]) >= 3
        policy = (await api.post("/api/v1/compliance/policies", headers=headers, json={
            "org_id": org["id"], "os_type": "linux", "template_id": templates[0]["id"]})).json()
        enrollment = (await api.post(f"/api/v1/orgs/{org['id']}/enrollment-tokens", json={}, headers=headers)).json()
        fleet = Fleet(api, "http://test", Outcomes(fail_rate=0.2))
        (host,) = await fleet.enroll(1, enrollment["token"], prefix="boot")
        fleet.start(wait=2)
        try:
            requested = await api.post(f"/api/v1/compliance/policies/{policy['id']}/scan",
                                       json={"host_id": host.host_id}, headers=headers)
            assert requested.status_code == 202, requested.text
            scan_id = requested.json()["id"]

            async def completed():
                body = (await api.get(f"/api/v1/compliance/scans/{scan_id}", headers=headers)).json()
                return body["status"] == "completed"

            await eventually(completed, timeout=60)
        finally:
            await fleet.stop()
        described = await client.get_workflow_handle(f"scan-{scan_id}").describe()
        assert described.typed_search_attributes.get(sa.ORG_ID) == org["id"]
        assert described.typed_search_attributes.get(sa.HOST_ID) == host.host_id


async def test_production_bootstrap_refuses_to_run_without_an_admin_password(fresh_database, bare_temporal):
    env = dict(os.environ, DATABASE_URL=fresh_database, TEMPORAL_ADDRESS=bare_temporal, ENVIRONMENT="production",
               JWT_SECRET="bootstrap-test-secret-0123456789abcdef")
    env.pop("COMPLIANCE_ADMIN_PASSWORD", None)
    done = subprocess.run([sys.executable, "-m", "stack.cli", "bootstrap"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2 and "COMPLIANCE_ADMIN_PASSWORD" in done.stderr
