"""A worker SIGKILLed while scans are in flight: a new worker finishes every scan exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select, text

from agent.fleet import Fleet, Outcomes
from domain.scoring import compute_score, count_statuses
from models import ComplianceScan, ScanCheckResult
from orchestration.types import CycleInput
from tests.e2e.test_scan_end_to_end import setup_org
from tests.stack import eventually
from workflows.scan_cycle import ScanCycleWorkflow

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def start_worker(settings) -> subprocess.Popen:
    env = dict(os.environ) | {
        "DATABASE_URL": settings.database_url, "TEMPORAL_ADDRESS": settings.temporal_address,
        "TEMPORAL_TASK_QUEUE": settings.temporal_task_queue, "ENVIRONMENT": "test",
        "JWT_SECRET": settings.jwt_secret, "TEMPORAL_SCHEDULE_ENABLED": "false",
    }
    return subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def test_scans_complete_exactly_once_after_the_worker_is_killed(dev_env, db_url, app_factory, db):
    from tests.conftest import make_settings

    queue = "killed-worker"
    target = dev_env.client.service_client.config.target_host
    settings = make_settings(db_url, temporal_address=target, temporal_task_queue=queue)
    api = await app_factory(temporal_address=target, temporal_task_queue=queue)

    org, headers, token, policy = await setup_org(SimpleNamespace(api=api), db)
    fleet = Fleet(api, "http://test", Outcomes(fail_rate=0.3, latency=4.0))
    hosts = await fleet.enroll(30, token, prefix="kill")
    fleet.start(wait=2)
    first = start_worker(settings)
    second = None
    try:
        await dev_env.client.start_workflow(ScanCycleWorkflow.run, CycleInput(tick="kill"), id="scan-cycle-kill",
                                            task_queue=queue)

        async def some_completed():
            async with _fresh(db) as session:
                count = await session.scalar(select(func.count()).select_from(ComplianceScan).where(
                    ComplianceScan.status == "completed"))
            return count if 0 < count < len(hosts) else None

        await eventually(some_completed, timeout=60, interval=0.1)
        first.send_signal(signal.SIGKILL)
        first.wait()
        await asyncio.sleep(1)
        second = start_worker(settings)

        async def all_completed():
            async with _fresh(db) as session:
                count = await session.scalar(select(func.count()).select_from(ComplianceScan).where(
                    ComplianceScan.status == "completed"))
            return count == len(hosts)

        await eventually(all_completed, timeout=120, interval=0.5)
    finally:
        await fleet.stop()
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(timeout=30)

    async with _fresh(db) as session:
        scans = (await session.scalars(select(ComplianceScan))).all()
        assert len(scans) == len(hosts) and {s.status for s in scans} == {"completed"}
        assert len({s.host_id for s in scans}) == len(hosts)
        results = await session.scalar(select(func.count()).select_from(ScanCheckResult))
        assert results == sum(s.total for s in scans)
        states = await session.scalar(text("SELECT count(*) FROM check_states"))
        assert states == sum(s.total for s in scans)
        hostnames = {uuid.UUID(h.host_id): h.hostname for h in hosts}
        for scan in scans:
            rule_ids = (await session.scalars(select(ScanCheckResult.rule_id).where(
                ScanCheckResult.scan_id == scan.id))).all()
            expected = count_statuses(fleet.outcomes.status(hostnames[scan.host_id], r) for r in rule_ids)
            assert (scan.passed, scan.failed, scan.total) == (expected.passed, expected.failed, expected.total)
            assert scan.score == compute_score(expected).score


def _fresh(db):
    """A new session on the same database, so each probe sees committed rows."""
    from sqlalchemy.ext.asyncio import async_sessionmaker

    return async_sessionmaker(db.bind, expire_on_commit=False)()
