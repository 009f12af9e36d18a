"""A scan where most checks are missing or errored is incomplete: its score is shown with its coverage and never
counts as healthy (security review row 12: 2 of 95 results posted as pass scored 100 %)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from models import AgentJob, ComplianceScan, Incident
from tests.factories import login, make_host, make_org, make_user
from tests.scan_builders import make_policy, make_template, record, run_scan


async def answer_only(sessionmaker, policy, host_id, template, answered: int) -> ComplianceScan:
    """A scan whose agent answered `answered` checks, all passing, and left the rest unanswered."""
    async with sessionmaker() as db, db.begin():
        scan = ComplianceScan(org_id=policy.org_id, host_id=host_id, policy_id=policy.id,
                              template_id=template.template.id, template_version=template.template.version,
                              scan_type="on_demand", status="running", started_at=datetime.now(UTC))
        db.add(scan)
        await db.flush()
        checks = (template.critical + template.medium)[:answered]
        db.add(AgentJob(org_id=policy.org_id, host_id=host_id, kind="compliance_check", scan_id=scan.id,
                        payload={"scan_id": str(scan.id)}, status="completed", completed_at=datetime.now(UTC),
                        result={"results": [{"check_id": str(c.id), "status": "pass", "actual": "ok"}
                                            for c in checks]}))
    (scored,) = await record(sessionmaker, [scan.id])
    return scored


async def test_two_answers_out_of_forty_are_not_a_healthy_host(client, db, sessionmaker):
    org = await make_org(db)
    template = await make_template(db, org, checks=40)
    policy = await make_policy(db, org, template)
    partial, healthy = await make_host(db, org, hostname="partial"), await make_host(db, org, hostname="healthy")
    viewer = await make_user(db, org=org, role="viewer")
    await db.commit()
    headers = await login(client, viewer.username)

    scored = await answer_only(sessionmaker, policy, partial.id, template, answered=2)
    assert scored.score == 100.0 and scored.incomplete and scored.counts["errors"] == 38
    await run_scan(sessionmaker, policy, healthy.id, template, passed=30, failed=8)  # 78.95, complete

    scan = (await client.get(f"/api/v1/compliance/scans/{scored.scan_id}", headers=headers)).json()
    assert scan["status"] == "completed" and scan["score"] == 100.0
    assert scan["incomplete"] is True and scan["coverage"] == 5.0 and scan["score_reason"] == "incomplete"

    dashboard = (await client.get("/api/v1/compliance/dashboard", headers=headers)).json()
    assert dashboard["average_score"] == 78.95 and dashboard["hosts_scanned"] == 2
    assert dashboard["incomplete_hosts"] == 1
    (partial_row,) = [h for h in dashboard["worst_hosts"] if h["hostname"] == "partial"]
    assert partial_row["incomplete"] is True

    report = (await client.get("/api/v1/compliance/report", headers=headers)).json()
    assert report["summary"]["avg_score"] == 78.95 and report["summary"]["hosts_above_80"] == 0
    assert report["summary"]["incomplete_hosts"] == 1
    rows = {h["hostname"]: h for h in report["hosts"]}
    assert rows["partial"]["incomplete"] is True and rows["partial"]["coverage"] == 5.0
    assert rows["healthy"]["incomplete"] is False and rows["healthy"]["coverage"] == 100.0
    assert all(f["average_score"] == 78.95 for f in report["by_framework"])


async def test_an_incomplete_scan_resolves_no_incident(db, sessionmaker):
    org = await make_org(db)
    template = await make_template(db, org, checks=40)
    policy = await make_policy(db, org, template)
    host = await make_host(db, org)
    await db.commit()
    await run_scan(sessionmaker, policy, host.id, template, passed=5, failed=30)  # score 14: an incident opens
    assert (await db.scalar(select(Incident).where(Incident.host_id == host.id))).status == "open"
    await answer_only(sessionmaker, policy, host.id, template, answered=3)
    incident = await db.scalar(select(Incident).where(Incident.host_id == host.id).execution_options(
        populate_existing=True))
    assert incident.status == "open"
