"""PostgreSQL refuses connections for a few seconds while results arrive: nothing is lost, nothing is half-written."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from sqlalchemy import func, select, text

from agent.fleet import Fleet, Outcomes
from models import ComplianceScan, ScanCheckResult
from models.db import libpq_url, with_database
from orchestration.types import CycleInput
from tests.e2e.test_scan_end_to_end import setup_org
from tests.stack import eventually, running_stack
from workflows.scan_cycle import ScanCycleWorkflow

pytestmark = pytest.mark.slow


def database_name(url: str) -> str:
    return url.split("?", 1)[0].rsplit("/", 1)[1]


async def test_recording_survives_a_database_outage(dev_env, db_url, app_factory, db, pg_admin_url):
    name = database_name(db_url)
    async with running_stack(dev_env, db_url, app_factory) as stack:
        org, headers, token, policy = await setup_org(stack, db)
        fleet = Fleet(stack.api, "http://test", Outcomes(fail_rate=0.3, latency=6.0))
        hosts = await fleet.enroll(20, token, prefix="outage")
        await db.close()
        fleet.start(wait=2)
        try:
            await stack.client.start_workflow(ScanCycleWorkflow.run, CycleInput(tick="outage"),
                                              id=f"scan-cycle-outage-{name}",
                                              task_queue=stack.settings.temporal_task_queue)

            async def completed() -> int:
                async with stack.sessionmaker() as session:
                    return await session.scalar(select(func.count()).select_from(ComplianceScan).where(
                        ComplianceScan.status == "completed"))

            await eventually(completed, timeout=60, interval=0.1)
            with psycopg.connect(libpq_url(with_database(pg_admin_url, "postgres")), autocommit=True) as admin:
                admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
                admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
                await asyncio.sleep(4)
                admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')

            async def all_done() -> bool:
                return await completed() == len(hosts)

            await eventually(all_done, timeout=120, interval=0.5)
        finally:
            await fleet.stop()

        async with stack.sessionmaker() as session:
            scans = (await session.scalars(select(ComplianceScan))).all()
            assert {s.status for s in scans} == {"completed"} and len(scans) == len(hosts)
            results = await session.scalar(select(func.count()).select_from(ScanCheckResult))
            assert results == sum(s.total for s in scans)
            partial = await session.scalar(text(
                "SELECT count(*) FROM compliance_scans s WHERE s.total <> "
                "(SELECT count(*) FROM scan_check_results r WHERE r.scan_id = s.id)"))
            assert partial == 0
