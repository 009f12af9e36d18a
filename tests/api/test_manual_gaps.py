"""What the manual promises and no other test proved: host overrides on demand, change records a check asks for,
on-demand scans refused, the scan list's filters and the dashboard's worst-ten list."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from agent.fleet import Fleet, Outcomes
from models import (
    AgentJob,
    ChangeRecord,
    ComplianceCheck,
    CompliancePolicy,
    ComplianceScan,
    Remediation,
    ScanResults,
)
from orchestration import ids
from tests.e2e.test_scan_end_to_end import setup_org
from tests.factories import login, make_host, make_org, make_user
from tests.scan_builders import make_policy, make_template, open_scan, record
from tests.stack import eventually, running_stack, system_template_id

API = "/api/v1/compliance"
SCRIPTED_RULE = "1.1.1.1"  # CIS Linux L1: severity low, bound to a remediation script
ONLY_CHANGE_GROUND = ["the check requires a change record"]


async def operator_of(client, db, org=None):
    org = org or await make_org(db)
    user = await make_user(db, org=org, role="operator")
    await db.commit()
    return org, user, await login(client, user.username)


async def enabled_rule_ids(db, template_id: uuid.UUID) -> set[str]:
    return set(await db.scalars(select(ComplianceCheck.rule_id).where(ComplianceCheck.template_id == template_id,
                                                                      ComplianceCheck.enabled)))


async def requiring_a_change(db, rule_id: str = SCRIPTED_RULE) -> ComplianceCheck:
    """The system CIS check `rule_id`, marked `remediation_requires_change: true` (this test's own database)."""
    check = await db.scalar(select(ComplianceCheck).where(ComplianceCheck.template_id == await system_template_id(db),
                                                          ComplianceCheck.rule_id == rule_id))
    assert check.remediation_type == "script" and check.script_id is not None
    check.remediation_requires_change = True
    await db.commit()
    return check


# Host overrides, on-demand path (the scheduled path: tests/workflows/test_scan_cycle_limits.py)

async def test_on_demand_scan_of_an_overridden_host_uses_the_override_template(dev_env, db_url, app_factory, db):
    async with running_stack(dev_env, db_url, app_factory) as stack:
        org, headers, token, policy = await setup_org(stack, db)
        cis = uuid.UUID(policy["template_id"])
        stig = await system_template_id(db, "stig-linux")
        fleet = Fleet(stack.api, "http://test", Outcomes(fail_rate=0.3))
        web, legacy = await fleet.enroll(2, token, prefix="ovr")
        override = await stack.api.post(f"{API}/policies/{policy['id']}/overrides", headers=headers,
                                        json={"host_id": legacy.host_id, "template_id": str(stig)})
        assert override.status_code == 201, override.text

        fleet.start(wait=1)
        try:
            requested = {}
            for host in (web, legacy):
                response = await stack.api.post(f"{API}/policies/{policy['id']}/scan", headers=headers,
                                                json={"host_id": host.host_id})
                assert response.status_code == 202, response.text
                requested[host.hostname] = response.json()

            async def completed(scan_id):
                body = (await stack.api.get(f"{API}/scans/{scan_id}", headers=headers)).json()
                return body if body["status"] == "completed" else None

            done = {name: await eventually(lambda s=scan["id"]: completed(s)) for name, scan in requested.items()}
        finally:
            await fleet.stop()

    assert requested[legacy.hostname]["template_id"] == str(stig)
    assert requested[web.hostname]["template_id"] == str(cis)
    # The agent was sent the override's checks, and the scan was scored against them.
    legacy_rules = {r["rule_id"] for r in done[legacy.hostname]["results"]}
    web_rules = {r["rule_id"] for r in done[web.hostname]["results"]}
    assert legacy_rules == await enabled_rule_ids(db, stig)
    assert web_rules == await enabled_rule_ids(db, cis)
    assert not legacy_rules & web_rules


# remediation_requires_change

async def test_one_click_fix_of_a_check_requiring_a_change_opens_a_change_in_auto_mode(client, db):
    org, user, headers = await operator_of(client, db)
    check = await requiring_a_change(db)
    host = await make_host(db, org)
    policy = CompliancePolicy(org_id=org.id, os_type="linux", template_id=check.template_id, approval_mode="auto")
    db.add(policy)
    await db.flush()
    scan = ComplianceScan(org_id=org.id, host_id=host.id, policy_id=policy.id, template_id=check.template_id,
                          template_version=1, scan_type="scheduled", status="completed")
    db.add(scan)
    await db.flush()
    db.add(ScanResults(scan_id=scan.id, check_ids=[check.id], rule_ids=[check.rule_id], statuses=["fail"],
                       actuals=["loaded"], exception_ids=[None]))
    await db.commit()

    response = await client.post(f"{API}/scans/{scan.id}/checks/{check.id}/fix", headers=headers)

    assert response.status_code == 202, response.text
    body = response.json()
    assert body["remediation"]["status"] == "pending_approval"
    change = body["change"]
    assert change["status"] == "pending_approval" and change["requested_by"] == str(user.id)
    assert change["details"]["why"]["approval_required_because"] == ONLY_CHANGE_GROUND
    stored = await db.scalar(select(ChangeRecord).where(ChangeRecord.id == uuid.UUID(change["id"])))
    assert (stored.scan_id, stored.check_id, stored.status) == (scan.id, check.id, "pending_approval")


@dataclass
class FailingOnly(Outcomes):
    """Hosts fail exactly these rules and pass everything else."""

    failing: frozenset[str] = field(default_factory=frozenset)

    def status(self, hostname: str, rule_id: str) -> str:
        return "fail" if rule_id in self.failing else "pass"


async def test_automatic_remediation_of_a_check_requiring_a_change_waits_for_approval_in_auto_mode(
        skipping_env, db_url, app_factory, db):
    async with running_stack(skipping_env, db_url, app_factory, temporal_search_attributes=False,
                             agent_result_timeout_seconds=10) as stack:
        org, headers, token, policy = await setup_org(stack, db)
        check = await requiring_a_change(db)
        patched = await stack.api.patch(f"{API}/policies/{policy['id']}", headers=headers,
                                        json={"auto_remediate_low": True})
        assert patched.status_code == 200 and patched.json()["approval_mode"] == "auto"
        fleet = Fleet(stack.api, "http://test", FailingOnly(failing=frozenset({SCRIPTED_RULE})))
        (host,) = await fleet.enroll(1, token, prefix="chg")
        fleet.start(wait=1)
        try:
            scan = (await stack.api.post(f"{API}/policies/{policy['id']}/scan", headers=headers,
                                         json={"host_id": host.host_id})).json()
            async with skipping_env.time_skipping_unlocked():
                await stack.client.get_workflow_handle(ids.single_scan(scan["id"])).result()

            async def pending():
                body = (await stack.api.get("/api/v1/changes", params={"status": "pending_approval"},
                                            headers=headers)).json()
                return body[0] if body else None

            change = await eventually(pending)
        finally:
            await fleet.stop()

        assert change["scan_id"] == scan["id"] and change["check_id"] == str(check.id)
        assert change["details"]["why"]["trigger"] == "automatic"
        assert change["details"]["why"]["approval_required_because"] == ONLY_CHANGE_GROUND
        remediation = await db.scalar(select(Remediation).where(Remediation.scan_id == uuid.UUID(scan["id"])))
        assert (remediation.trigger, remediation.status) == ("automatic", "pending_approval")
        # Nothing was sent to the host before someone approves.
        sent = await db.scalar(select(func.count()).select_from(AgentJob).where(AgentJob.kind == "remediation"))
        assert sent == 0


# On-demand scans that are refused

async def test_on_demand_scan_of_an_offline_host_is_refused_with_400(client, db):
    org, _, headers = await operator_of(client, db)
    template_id = await system_template_id(db)
    never_seen = await make_host(db, org, online=False)
    gone_quiet = await make_host(db, org)
    gone_quiet.last_seen = datetime.now(UTC) - timedelta(minutes=10)  # beyond the 5-minute online window
    policy = CompliancePolicy(org_id=org.id, os_type="linux", template_id=template_id)
    db.add(policy)
    await db.commit()

    for host in (never_seen, gone_quiet):
        response = await client.post(f"{API}/policies/{policy.id}/scan", headers=headers,
                                     json={"host_id": str(host.id)})
        assert response.status_code == 400, response.text
        assert "offline" in response.json()["detail"]
    assert await db.scalar(select(func.count()).select_from(ComplianceScan)) == 0


async def test_on_demand_scan_of_another_orgs_host_is_not_found(client, db):
    org, _, headers = await operator_of(client, db)
    other_org, _, other_headers = await operator_of(client, db)
    template_id = await system_template_id(db)
    foreign_host = await make_host(db, other_org)
    policy = CompliancePolicy(org_id=org.id, os_type="linux", template_id=template_id)
    db.add(policy)
    await db.commit()

    # Neither the policy's org nor the host's org can join the two.
    for caller in (headers, other_headers):
        response = await client.post(f"{API}/policies/{policy.id}/scan", headers=caller,
                                     json={"host_id": str(foreign_host.id)})
        assert response.status_code == 404, response.text
    assert await db.scalar(select(func.count()).select_from(ComplianceScan)) == 0


# GET /compliance/scans filters

async def test_scan_list_filters_by_status_and_scan_type(client, db):
    org, _, headers = await operator_of(client, db)
    other_org = await make_org(db)
    template = await make_template(db, org)
    policy = await make_policy(db, org, template)
    other_policy = await make_policy(db, other_org, await make_template(db, other_org))
    kinds = [("scheduled", "completed"), ("scheduled", "error"), ("on_demand", "completed"),
             ("on_demand", "running"), ("verify", "queued"), ("verify", "completed")]
    scans = {}
    for scan_type, status in kinds:
        host = await make_host(db, org)
        scan = ComplianceScan(org_id=org.id, host_id=host.id, policy_id=policy.id, template_id=template.template.id,
                              template_version=3, scan_type=scan_type, status=status)
        db.add(scan)
        scans[scan_type, status] = scan
    db.add(ComplianceScan(org_id=other_org.id, host_id=(await make_host(db, other_org)).id,
                          policy_id=other_policy.id, template_id=other_policy.template_id, template_version=3,
                          scan_type="scheduled", status="completed"))
    await db.commit()

    async def listed(**params) -> set[tuple[str, str]]:
        response = await client.get(f"{API}/scans", params=params, headers=headers)
        assert response.status_code == 200, response.text
        assert response.headers["X-Total-Count"] == str(len(response.json()))
        ids_ = {str(s.id): key for key, s in scans.items()}
        return {ids_[s["id"]] for s in response.json()}

    assert await listed() == set(kinds)
    assert await listed(status="completed") == {("scheduled", "completed"), ("on_demand", "completed"),
                                                ("verify", "completed")}
    assert await listed(status="error") == {("scheduled", "error")}
    assert await listed(scan_type="on_demand") == {("on_demand", "completed"), ("on_demand", "running")}
    assert await listed(scan_type="verify", status="queued") == {("verify", "queued")}
    assert await listed(scan_type="scheduled", status="running") == set()
    for bad in ({"status": "done"}, {"scan_type": "nightly"}):
        assert (await client.get(f"{API}/scans", params=bad, headers=headers)).status_code == 422


# Dashboard: worst ten

async def test_dashboard_lists_only_the_ten_worst_hosts_lowest_score_first(client, db, sessionmaker):
    org = await make_org(db)
    viewer = await make_user(db, org=org, role="viewer")
    template = await make_template(db, org)
    policy = await make_policy(db, org, template)
    hosts = [await make_host(db, org, hostname=f"h{i:02d}") for i in range(12)]
    await db.commit()
    # h00 passes nothing, h11 everything: scores rise with the number in the name.
    opened = [await open_scan(sessionmaker, policy, host.id, template, passed=i, failed=11 - i)
              for i, host in enumerate(hosts)]
    await record(sessionmaker, opened)
    headers = await login(client, viewer.username)

    response = await client.get(f"{API}/dashboard", headers=headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["hosts_scanned"] == 12
    worst = body["worst_hosts"]
    assert [h["hostname"] for h in worst] == [f"h{i:02d}" for i in range(10)]
    scores = [h["score"] for h in worst]
    assert scores == sorted(scores) and len(set(scores)) == 10 and scores[0] == 0.0
