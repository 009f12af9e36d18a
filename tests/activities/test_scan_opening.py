"""Planning opens each scheduled scan with its agent job in one go; a batch opens only its queued one-host scans."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import psycopg
from sqlalchemy import select

from models import AgentJob, CompliancePolicy, ComplianceScan, ComplianceTemplate, Organization
from models.db import libpq_url
from orchestration import ids
from services.scans import JOBS_CHANNEL, open_jobs, open_single_scan, plan_policy
from tests.factories import make_host, make_org


@asynccontextmanager
async def announced_hosts(db_url: str) -> AsyncIterator[set[str]]:
    """The host ids named by job announcements committed while the block runs."""
    hosts: set[str] = set()
    async with await psycopg.AsyncConnection.connect(libpq_url(db_url), autocommit=True) as listener:
        await listener.execute(f"LISTEN {JOBS_CHANNEL}")
        yield hosts
        async for notice in listener.notifies(timeout=0.5):
            hosts.update(notice.payload.split(","))


async def linux_policy(db) -> tuple[Organization, CompliancePolicy, ComplianceTemplate]:
    org = await make_org(db)
    template = await db.scalar(select(ComplianceTemplate).where(ComplianceTemplate.content_key == "cis-linux-l1"))
    policy = CompliancePolicy(org_id=org.id, os_type="linux", template_id=template.id, batch_size=100)
    db.add(policy)
    await db.flush()
    return org, policy, template


async def test_planning_opens_each_scan_running_with_one_pending_job_and_announces_its_host(db, db_url):
    org, policy, template = await linux_policy(db)
    hosts = [await make_host(db, org) for _ in range(3)]
    async with announced_hosts(db_url) as announced:
        plan = await plan_policy(db, policy, template, "t1", datetime.now(UTC), cycle_minutes=30,
                                 seen_within=timedelta(hours=24), workflow_chunk=2)
        await db.commit()

    assert (plan.due, plan.opened) == (3, 3)
    assert announced == {str(h.id) for h in hosts}
    scans = (await db.scalars(select(ComplianceScan).where(ComplianceScan.policy_id == policy.id))).all()
    assert all(s.status == "running" and s.started_at is not None for s in scans)
    assert sorted(s.workflow_id for s in scans) == sorted(
        [ids.scan_batch(policy.id, "t1", 0)] * 2 + [ids.scan_batch(policy.id, "t1", 1)])
    jobs = (await db.scalars(select(AgentJob).where(AgentJob.scan_id.in_([s.id for s in scans])))).all()
    assert sorted(j.scan_id for j in jobs) == sorted(s.id for s in scans)
    assert all(j.status == "pending" and j.kind == "compliance_check" for j in jobs)


async def test_a_planned_batch_opens_nothing_again_and_announces_no_host(db, db_url):
    org, policy, template = await linux_policy(db)
    await make_host(db, org)
    await plan_policy(db, policy, template, "t1", datetime.now(UTC), cycle_minutes=30,
                      seen_within=timedelta(hours=24))
    await db.commit()

    async with announced_hosts(db_url) as announced:
        refs = await open_jobs(db, ids.scan_batch(policy.id, "t1", 0))
        await db.commit()

    assert len(refs) == 1
    assert announced == set()
    assert await db.scalar(select(AgentJob.id).where(AgentJob.scan_id == refs[0][0])) == refs[0][1]


async def test_a_batch_opens_its_queued_one_host_scan_and_announces_the_host(db, db_url):
    org, policy, template = await linux_policy(db)
    host = await make_host(db, org)
    scan, _ = await open_single_scan(db, policy, host.id, template, "on_demand")
    await db.commit()

    async with announced_hosts(db_url) as announced:
        refs = await open_jobs(db, ids.single_scan(scan.id))
        await db.commit()

    assert [(scan_id, host_id) for scan_id, _, host_id in refs] == [(scan.id, host.id)]
    assert announced == {str(host.id)}
    await db.refresh(scan)
    assert scan.status == "running"
    assert refs[0][1] == await db.scalar(select(AgentJob.id).where(AgentJob.scan_id == scan.id))


async def test_a_recording_takes_the_batchs_other_answered_scans_and_only_those(db, sessionmaker):
    from activities.scans import ScanActivities
    from config import Settings
    from orchestration.types import RecordInput

    org, policy, template = await linux_policy(db)
    hosts = [await make_host(db, org) for _ in range(4)]
    await plan_policy(db, policy, template, "t1", datetime.now(UTC), cycle_minutes=30,
                      seen_within=timedelta(hours=24), workflow_chunk=3)
    await db.commit()
    batch = ids.scan_batch(policy.id, "t1", 0)
    refs = await open_jobs(db, batch)  # three scans; the fourth host is in the next batch
    other = await db.scalar(select(ComplianceScan.id).where(ComplianceScan.workflow_id == ids.scan_batch(
        policy.id, "t1", 1)))
    # The agents of the first two scans of this batch and of the other batch's scan answer; the third is silent.
    answered = [scan_id for scan_id, _, _ in refs[:2]]
    jobs = (await db.scalars(select(AgentJob).where(AgentJob.scan_id.in_([*answered, other])))).all()
    for job in jobs:
        job.status, job.completed_at, job.result = "completed", datetime.now(UTC), {"results": []}
    await db.commit()

    outcome = await ScanActivities(sessionmaker, Settings()).record_scan_results(RecordInput(
        completed_scan_ids=[str(answered[0])], answered_of_batch=batch, answered_limit=10))

    assert outcome.recorded == 2 and outcome.answered_scan_ids == [str(answered[1])]
    statuses = dict((await db.execute(select(ComplianceScan.id, ComplianceScan.status).where(
        ComplianceScan.policy_id == policy.id).execution_options(populate_existing=True))).all())
    assert statuses == {answered[0]: "completed", answered[1]: "completed", refs[2][0]: "running",
                        other: "running"}
    assert len(hosts) == 4
