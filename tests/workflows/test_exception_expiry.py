"""Exception expiry on the time-skipping server, with the real API, worker and activities on the test database."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.worker import Worker

from activities.exceptions import ExceptionActivities
from models import AuditEntry, ComplianceException
from orchestration import ids
from orchestration.types import CycleInput, ExpireExceptionInput, ExpireExceptionOutcome, ExpiryInput, ExpiryResult
from tests.api.test_exception_waivers import Fleet
from tests.api.test_exceptions import EXCEPTIONS, approved_exception, in_days, make_team
from tests.e2e.test_scan_end_to_end import save_history
from tests.factories import make_host
from tests.stack import eventually, running_stack
from workflows.exception_expiry import ExceptionExpiryWorkflow
from workflows.scan_cycle import ScanCycleWorkflow

DAY = timedelta(days=1)


def skipping_stack(skipping_env, db_url, app_factory):
    return running_stack(skipping_env, db_url, app_factory, temporal_search_attributes=False)


async def status_of(db, exception: dict) -> str:
    return await db.scalar(select(ComplianceException.status).where(
        ComplianceException.id == uuid.UUID(exception["id"])).execution_options(populate_existing=True))


async def becomes(db, exception: dict, status: str) -> None:
    async def reached():
        await db.commit()  # ends the snapshot; instances stay loaded
        return await status_of(db, exception) == status

    await eventually(reached, timeout=20)


async def stays(db, exception: dict, status: str) -> None:
    """Give the worker time to act on anything the skipped time made due, then check nothing changed."""
    await asyncio.sleep(1.5)
    await db.commit()
    assert await status_of(db, exception) == status


async def expiries(db, exception: dict) -> int:
    await db.commit()
    return await db.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "exception.expire", AuditEntry.target_id == exception["id"]))


async def test_exception_set_to_expire_in_30_days_expires_and_fails_again(skipping_env, db_url, app_factory, db,
                                                                          sessionmaker):
    async with skipping_stack(skipping_env, db_url, app_factory) as stack:
        team = await make_team(stack.api, db)
        fleet = await Fleet.create(db, sessionmaker, team.org)
        host = await make_host(db, team.org)
        await db.commit()
        exception = await approved_exception(stack.api, team, rule_id=fleet.rule(0), expires_at=in_days(30))
        assert await fleet.waived(await fleet.scan(host, {0: "fail"})) == {fleet.rule(0): exception["id"]}

        await skipping_env.sleep(29 * DAY)
        await stays(db, exception, "active")
        await skipping_env.sleep(DAY + timedelta(hours=1))
        await becomes(db, exception, "expired")

        handle = stack.client.get_workflow_handle(ids.exception_expiry(exception["id"]), result_type=ExpiryResult)
        assert (await handle.result()).outcome == "expired"
        await save_history(handle, "exception_expiry")
        entry = await db.scalar(select(AuditEntry).where(AuditEntry.action == "exception.expire"))
        assert entry.actor_type == "system" and entry.target_id == exception["id"] and entry.org_id == team.org.id
        assert entry.after["via"] == "timer"
        # From the next scan on, the check counts as failed again.
        assert await fleet.waived(await fleet.scan(host, {0: "fail"})) == {}


async def test_extended_exception_expires_at_the_new_date_not_the_old(skipping_env, db_url, app_factory, db):
    async with skipping_stack(skipping_env, db_url, app_factory) as stack:
        team = await make_team(stack.api, db)
        exception = await approved_exception(stack.api, team, expires_at=in_days(30))
        response = await stack.api.patch(f"{EXCEPTIONS}/{exception['id']}", json={"expires_at": in_days(60)},
                                         headers=team.approver_headers)
        assert response.status_code == 200, response.text

        await skipping_env.sleep(30 * DAY + timedelta(hours=1))
        await stays(db, exception, "active")
        handle = stack.client.get_workflow_handle(ids.exception_expiry(exception["id"]), result_type=ExpiryResult)
        events = [e.event_type for e in (await handle.fetch_history()).events]
        assert EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED in events  # the timer moved: it did not fire
        assert EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED not in events

        await skipping_env.sleep(30 * DAY)
        await becomes(db, exception, "expired")
        assert await expiries(db, exception) == 1
        assert (await handle.result()).outcome == "expired"
        await save_history(handle, "exception_expiry_rescheduled")


async def test_revoked_exception_timer_ends_without_expiring(skipping_env, db_url, app_factory, db):
    async with skipping_stack(skipping_env, db_url, app_factory) as stack:
        team = await make_team(stack.api, db)
        exception = await approved_exception(stack.api, team, expires_at=in_days(30))
        response = await stack.api.delete(f"{EXCEPTIONS}/{exception['id']}", headers=team.approver_headers)
        assert response.status_code == 200 and response.json()["status"] == "revoked"

        handle = stack.client.get_workflow_handle(ids.exception_expiry(exception["id"]), result_type=ExpiryResult)
        assert (await handle.result()).outcome == "revoked"
        await skipping_env.sleep(31 * DAY)
        await stays(db, exception, "revoked")
        assert await expiries(db, exception) == 0


async def test_cleared_expiry_ends_the_timer_and_a_new_one_starts_it_again(skipping_env, db_url, app_factory, db):
    async with skipping_stack(skipping_env, db_url, app_factory) as stack:
        team = await make_team(stack.api, db)
        exception = await approved_exception(stack.api, team, expires_at=in_days(30))
        url = f"{EXCEPTIONS}/{exception['id']}"
        cleared = await stack.api.patch(url, json={"expires_at": None}, headers=team.approver_headers)
        assert cleared.status_code == 200 and cleared.json()["expires_at"] is None

        handle = stack.client.get_workflow_handle(ids.exception_expiry(exception["id"]), result_type=ExpiryResult)
        assert (await handle.result()).outcome == "cleared"
        await skipping_env.sleep(31 * DAY)
        await stays(db, exception, "active")

        # Expiry set again on an exception whose timer has ended: a new timer starts.
        again = await stack.api.patch(url, json={"expires_at": in_days(45)}, headers=team.requester_headers)
        assert again.status_code == 200, again.text
        await skipping_env.sleep(46 * DAY)
        await becomes(db, exception, "expired")


async def test_exception_approved_without_expiry_gets_a_timer_when_one_is_set(skipping_env, db_url, app_factory,
                                                                              db):
    async with skipping_stack(skipping_env, db_url, app_factory) as stack:
        team = await make_team(stack.api, db)
        exception = await approved_exception(stack.api, team)
        url = f"{EXCEPTIONS}/{exception['id']}"
        response = await stack.api.patch(url, json={"expires_at": in_days(10)}, headers=team.requester_headers)
        assert response.status_code == 200, response.text
        await skipping_env.sleep(11 * DAY)
        await becomes(db, exception, "expired")
        assert await expiries(db, exception) == 1


async def test_scan_cycle_expires_every_overdue_exception(skipping_env, db_url, app_factory, db):
    async with skipping_stack(skipping_env, db_url, app_factory) as stack:
        team = await make_team(stack.api, db)
        overdue = [await approved_exception(stack.api, team, expires_at=in_days(1)) for _ in range(2)]
        running = await approved_exception(stack.api, team, expires_at=in_days(1))
        for exception in overdue:
            row = await db.get(ComplianceException, uuid.UUID(exception["id"]))
            row.expires_at = datetime.now(UTC) - timedelta(minutes=5)
        await db.commit()

        await stack.client.execute_workflow(ScanCycleWorkflow.run, CycleInput(tick="x1"), id="scan-cycle-x1",
                                            task_queue=stack.settings.temporal_task_queue)
        for exception in overdue:
            assert await status_of(db, exception) == "expired"
            assert await expiries(db, exception) == 1
        assert await status_of(db, running) == "active"
        entry = await db.scalar(select(AuditEntry).where(AuditEntry.action == "exception.expire"))
        assert entry.actor_type == "system" and entry.after["via"] == "scan_cycle"
        await save_history(stack.client.get_workflow_handle("scan-cycle-x1"), "scan_cycle_expiring_exceptions")

        # The overdue exceptions' own timers fire later and find nothing left to do.
        await skipping_env.sleep(2 * DAY)
        for exception in overdue:
            result = await stack.client.get_workflow_handle(
                ids.exception_expiry(exception["id"]), result_type=ExpiryResult).result()
            assert result.outcome == "no_longer_active"
            assert await expiries(db, exception) == 1


async def test_expire_activity_is_idempotent_and_respects_the_current_expiry(client, db, sessionmaker):
    team = await make_team(client, db)
    exception = await approved_exception(client, team)
    row = await db.get(ComplianceException, uuid.UUID(exception["id"]))
    deadline = datetime.now(UTC) + timedelta(days=30)
    row.expires_at = deadline
    await db.commit()
    activities = ExceptionActivities(sessionmaker)

    early = await activities.expire_exception(ExpireExceptionInput(exception["id"], datetime.now(UTC).isoformat()))
    assert not early.expired and early.status == "active"
    assert datetime.fromisoformat(early.expires_at) == deadline

    at_deadline = ExpireExceptionInput(exception["id"], deadline.isoformat())
    first = await activities.expire_exception(at_deadline)
    second = await activities.expire_exception(at_deadline)
    assert first.expired and not second.expired and second.status == "expired"
    assert await expiries(db, exception) == 1
    missing = await activities.expire_exception(ExpireExceptionInput(str(uuid.uuid4()), deadline.isoformat()))
    assert not missing.expired and missing.status is None
    assert (await activities.expire_overdue_exceptions()).expired == 0


async def test_timer_that_missed_a_reschedule_re_arms_from_the_database(skipping_env):
    """The activity, not the signal, has the last word: a later expiry found in the database re-arms the timer."""
    calls: list[ExpireExceptionInput] = []

    @activity.defn(name="expire_exception")
    async def expire_exception(params: ExpireExceptionInput) -> ExpireExceptionOutcome:
        calls.append(params)
        if len(calls) == 1:
            later = datetime.fromisoformat(params.as_of) + 10 * DAY
            return ExpireExceptionOutcome(expired=False, status="active", expires_at=later.isoformat())
        return ExpireExceptionOutcome(expired=True, status="expired", expires_at=None)

    queue = f"tq-{uuid.uuid4().hex[:8]}"
    start = await skipping_env.get_current_time()
    async with Worker(skipping_env.client, task_queue=queue, workflows=[ExceptionExpiryWorkflow],
                      activities=[expire_exception]):
        result = await skipping_env.client.execute_workflow(
            ExceptionExpiryWorkflow.run, ExpiryInput("e1", (start + 30 * DAY).isoformat()),
            id="exception-expiry-e1", task_queue=queue,
        )
    assert result == ExpiryResult("e1", "expired")
    fired = [datetime.fromisoformat(c.as_of) - start for c in calls]
    assert len(fired) == 2 and 30 * DAY <= fired[0] < 31 * DAY and 40 * DAY <= fired[1] < 41 * DAY
