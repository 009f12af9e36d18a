"""The Temporal dev server restarts (same persistence file) while a scheduled batch is in flight and a
remediation waits for approval: everything resumes and nothing is lost."""

from __future__ import annotations

import asyncio
import signal
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select
from temporalio.client import Client

from agent.fleet import Fleet, Outcomes
from models import ComplianceScan
from models.db import make_engine, make_sessionmaker
from orchestration.types import CycleInput
from stack.ports import free_port
from stack.temporal import start_dev_server
from tests.conftest import make_settings
from tests.e2e.test_scan_end_to_end import setup_org
from tests.stack import eventually
from tests.workflows.test_remediation import LOW_RULE, OnlyFailing
from worker import build_worker
from workflows.scan_cycle import ScanCycleWorkflow

pytestmark = pytest.mark.slow


async def test_everything_resumes_after_a_temporal_restart(db_url, app_factory, db):
    port, ui_port = free_port(), free_port()
    folder = Path(tempfile.mkdtemp(prefix="cops-temporal-"))
    db_file = folder / "temporal.db"

    def start():
        return start_dev_server(port=port, ui_port=ui_port, db_file=db_file, headless=True,
                                log_file=folder / "temporal.log")

    server = start()
    address = f"127.0.0.1:{port}"
    settings = make_settings(db_url, temporal_address=address, temporal_task_queue="restart",
                             verify_delay_seconds=1, agent_result_timeout_seconds=120)
    api = await app_factory(temporal_address=address, temporal_task_queue="restart", verify_delay_seconds=1,
                            agent_result_timeout_seconds=120)
    client = await Client.connect(address)
    engine = make_engine(db_url, pool_size=10)
    sessionmaker = make_sessionmaker(engine)
    org, headers, token, policy = await setup_org(SimpleNamespace(api=api), db)
    await api.patch(f"/api/v1/compliance/policies/{policy['id']}", headers=headers,
                    json={"approval_mode": "manual", "auto_remediate_low": True})
    fleet = Fleet(api, "http://test", OnlyFailing(failing=frozenset({LOW_RULE})))
    (fixed_host,) = await fleet.enroll(1, token, prefix="restart-fix")
    slow = Fleet(api, "http://test", Outcomes(fail_rate=0.0, latency=6.0))
    batch_hosts = await slow.enroll(8, token, prefix="restart-batch")
    fleet.start(wait=2)
    try:
        async with build_worker(client, sessionmaker, settings):
            await api.post(f"/api/v1/compliance/policies/{policy['id']}/scan", headers=headers,
                           json={"host_id": fixed_host.host_id})

            async def pending():
                found = (await api.get("/api/v1/changes", headers=headers,
                                       params={"status": "pending_approval"})).json()
                return found[0] if found else None

            change = await eventually(pending, timeout=60)
            slow.start(wait=2)
            await client.start_workflow(ScanCycleWorkflow.run, CycleInput(tick="restart"), id="scan-cycle-restart",
                                        task_queue="restart")

            async def running() -> int:
                async with sessionmaker() as session:
                    return await session.scalar(select(func.count()).select_from(ComplianceScan).where(
                        ComplianceScan.scan_type == "scheduled", ComplianceScan.status == "running"))

            await eventually(running, timeout=60)
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
            await asyncio.sleep(2)
            server = start()

            approved = await api.post(f"/api/v1/changes/{change['id']}/approve", headers=headers,
                                      json={"reason": "after restart"})
            assert approved.status_code == 200, approved.text

            async def all_scheduled_done() -> bool:
                async with sessionmaker() as session:
                    done = await session.scalar(select(func.count()).select_from(ComplianceScan).where(
                        ComplianceScan.scan_type == "scheduled", ComplianceScan.status == "completed"))
                return done == len(batch_hosts)

            await eventually(all_scheduled_done, timeout=180, interval=1)

            async def verified():
                body = (await api.get(f"/api/v1/compliance/remediations/{change['remediation_id']}",
                                      headers=headers)).json()
                verify_id = body["remediation"]["verify_scan_id"]
                if not verify_id:
                    return None
                verify = (await api.get(f"/api/v1/compliance/scans/{verify_id}", headers=headers)).json()
                return verify if verify["status"] == "completed" else None

            verify = await eventually(verified, timeout=180, interval=1)
    finally:
        await fleet.stop()
        await slow.stop()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        await engine.dispose()
    (result,) = [r for r in verify["results"] if r["rule_id"] == LOW_RULE]
    assert result["status"] == "pass"
