"""Latest state per host, policy and check: always the latest recorded scan's history, rewritten only where it
changed (positionally against the previous scan when the checks are the same, by key when they are not)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text

from models import CheckState, ScanCheckResult
from tests.factories import login, make_host, make_org, make_user
from tests.scan_builders import make_policy, make_template, open_scan, record, run_scan


async def states(db, host_id, policy_id) -> dict:
    rows = await db.execute(select(CheckState).where(CheckState.host_id == host_id, CheckState.policy_id == policy_id)
                            .execution_options(populate_existing=True))
    return {s.check_id: (s.status, s.actual, s.exception_id, s.scan_id) for s in rows.scalars()}


async def history(db, scan_id) -> dict:
    rows = await db.execute(select(ScanCheckResult).where(ScanCheckResult.scan_id == scan_id))
    return {r.check_id: (r.status, r.actual, r.exception_id) for r in rows.scalars()}


async def test_unchanged_outcomes_keep_their_row_and_changed_ones_are_rewritten(db, sessionmaker):
    org = await make_org(db)
    template = await make_template(db, org, checks=10, critical=0)
    policy = await make_policy(db, org, template)
    host = await make_host(db, org)
    await db.commit()

    first = await run_scan(sessionmaker, policy, host.id, template, passed=6, failed=4)
    after_first = await states(db, host.id, policy.id)
    assert {k: v[:3] for k, v in after_first.items()} == await history(db, first.scan_id)
    assert {v[3] for v in after_first.values()} == {first.scan_id}

    changed = template.medium[5].id  # pass → fail; one more check changes only its observed value
    reworded = template.medium[7].id
    second = await run_scan(sessionmaker, policy, host.id, template, passed=5, failed=5,
                            actual={reworded: "different"})
    after_second = await states(db, host.id, policy.id)
    assert {k: v[:3] for k, v in after_second.items()} == await history(db, second.scan_id)
    rewritten = {k for k, v in after_second.items() if v[3] == second.scan_id}
    assert rewritten == {changed, reworded}
    assert after_second[changed][0] == "fail" and after_second[reworded][1] == "different"


async def test_a_new_template_replaces_the_states_of_departed_checks(db, sessionmaker):
    org = await make_org(db)
    old = await make_template(db, org, checks=6, critical=0, name="Old")
    new = await make_template(db, org, checks=4, critical=0, name="New")
    policy = await make_policy(db, org, old)
    host = await make_host(db, org)
    await db.commit()

    await run_scan(sessionmaker, policy, host.id, old, passed=6)
    second = await run_scan(sessionmaker, policy, host.id, new, passed=2, failed=2)
    after = await states(db, host.id, policy.id)
    assert set(after) == {c.id for c in new.medium}
    assert {k: v[:3] for k, v in after.items()} == await history(db, second.scan_id)


async def test_a_scan_recorded_after_a_newer_one_leaves_the_state_alone(db, sessionmaker):
    org = await make_org(db)
    template = await make_template(db, org, checks=5, critical=0)
    policy = await make_policy(db, org, template)
    host = await make_host(db, org)
    await db.commit()

    newer = await run_scan(sessionmaker, policy, host.id, template, passed=5)
    # A scan whose job completed two hours ago is recorded only now, after the newer one.
    older = await open_scan(sessionmaker, policy, host.id, template, passed=0, failed=5,
                            at=datetime.now(UTC) - timedelta(hours=2))
    await record(sessionmaker, [older])
    after = await states(db, host.id, policy.id)
    assert {k: v[:3] for k, v in after.items()} == await history(db, newer.scan_id)
    assert len(await history(db, older)) == 5  # its history is kept all the same
    latest = await db.scalar(text("SELECT scan_id FROM host_policy_status WHERE host_id = :h"), {"h": host.id})
    assert latest == newer.scan_id


async def test_the_export_dates_unchanged_states_by_the_latest_scan(client, db, sessionmaker):
    org = await make_org(db)
    user = await make_user(db, org=org, role="viewer")
    template = await make_template(db, org, checks=4, critical=0)
    policy = await make_policy(db, org, template)
    host = await make_host(db, org)
    await db.commit()

    await run_scan(sessionmaker, policy, host.id, template, passed=4)
    second = await run_scan(sessionmaker, policy, host.id, template, passed=4)  # nothing changed
    assert {v[3] for v in (await states(db, host.id, policy.id)).values()} != {second.scan_id}

    response = await client.get("/api/v1/compliance/export.csv", headers=await login(client, user.username))
    rows = list(csv.DictReader(io.StringIO(response.text, newline="")))
    assert len(rows) == 4
    assert {datetime.fromisoformat(r["scanned_at"]) for r in rows} == {second.completed_at}
