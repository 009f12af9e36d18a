"""Recording a micro-batch: a stray history row does not stop it, a recorded scan is never recorded twice, and a
batch of many hosts leaves each host's latest state equal to its own history."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from models import CheckState, ComplianceScan, ScanCheckResult
from tests.factories import make_host, make_org
from tests.scan_builders import make_policy, make_template, open_scan, record


async def arrange(db, checks: int, critical: int, hosts: int):
    """An organization's policy on a template of `checks` checks, and its hosts."""
    org = await make_org(db)
    template = await make_template(db, org, checks=checks, critical=critical)
    policy = await make_policy(db, org, template)
    made = [await make_host(db, org) for _ in range(hosts)]
    await db.commit()
    return template, policy, made


async def outcomes(db, model, **where) -> dict:
    rows = await db.execute(select(model).filter_by(**where).execution_options(populate_existing=True))
    return {r.check_id: (r.status, r.actual, r.exception_id) for r in rows.scalars()}


async def test_a_history_row_left_by_hand_for_a_running_scan_is_replaced(db, sessionmaker):
    template, policy, (host,) = await arrange(db, checks=4, critical=0, hosts=1)
    scan_id = await open_scan(sessionmaker, policy, host.id, template, passed=3, failed=1)
    await db.execute(text("INSERT INTO scan_results VALUES (:id, '{}', '{}', '{}', '{}', '{}')"), {"id": scan_id})
    await db.commit()

    (scored,) = await record(sessionmaker, [scan_id])

    assert scored.counts["passed"] == 3 and scored.counts["failed"] == 1
    assert len(await outcomes(db, ScanCheckResult, scan_id=scan_id)) == 4


async def test_recording_a_batch_twice_changes_nothing_the_second_time(db, sessionmaker):
    template, policy, hosts = await arrange(db, checks=6, critical=1, hosts=3)
    for _ in range(2):  # a first scan, then one compared position by position
        scan_ids = [await open_scan(sessionmaker, policy, h.id, template, passed=n + 1, failed=4 - n,
                                    critical_failed=n % 2) for n, h in enumerate(hosts)]
        first = await record(sessionmaker, scan_ids)
        assert len(first) == 3
        assert await record(sessionmaker, scan_ids) == []

    for host, scan_id in zip(hosts, scan_ids, strict=True):
        history = await outcomes(db, ScanCheckResult, scan_id=scan_id)
        assert await outcomes(db, CheckState, host_id=host.id, policy_id=policy.id) == history
    completed = await db.scalars(select(ComplianceScan.status).where(ComplianceScan.id.in_(scan_ids)))
    assert set(completed) == {"completed"}


async def test_an_unknown_status_fails_the_whole_batch_and_leaves_its_scans_running(db, sessionmaker):
    template, policy, hosts = await arrange(db, checks=3, critical=0, hosts=2)
    good = await open_scan(sessionmaker, policy, hosts[0].id, template, passed=3)
    bad = await open_scan(sessionmaker, policy, hosts[1].id, template, passed=3)
    await db.execute(text("""
        UPDATE agent_jobs SET result = json_build_object('results', json_build_array(json_build_object(
            'check_id', CAST(:check AS text), 'status', 'maybe', 'actual', 'x')))
        WHERE scan_id = :scan
    """), {"check": str(template.medium[0].id), "scan": bad})
    await db.commit()

    with pytest.raises(ValueError, match="unknown check status"):
        await record(sessionmaker, sorted([good, bad]))

    statuses = await db.scalars(select(ComplianceScan.status).where(ComplianceScan.id.in_([good, bad]))
                                .execution_options(populate_existing=True))
    assert set(statuses) == {"running"}
    assert await outcomes(db, ScanCheckResult, scan_id=good) == {}
