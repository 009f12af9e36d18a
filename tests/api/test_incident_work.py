"""People work incidents and alerts: acknowledge, assign, comment, resolve; alerts name their incident."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from models import AuditEntry
from tests.factories import login, make_host, make_org, make_user
from tests.scan_builders import make_policy, make_template, past_scan, run_scan


async def regressed_host(db, sessionmaker):
    """A host whose score fell from 90 to 70: one regression alert, correlated into one open incident."""
    org = await make_org(db)
    template = await make_template(db, org, checks=12, critical=2)
    policy = await make_policy(db, org, template)
    host = await make_host(db, org, hostname="web-1")
    await past_scan(db, policy, host.id, template, 90.0, datetime.now(UTC) - timedelta(hours=1))
    operator = await make_user(db, org=org, role="operator")
    colleague = await make_user(db, org=org, role="operator")
    viewer = await make_user(db, org=org, role="viewer")
    await db.commit()
    await run_scan(sessionmaker, policy, host.id, template, passed=7, failed=3)
    return org, template, policy, host, operator, colleague, viewer


async def test_an_incident_lists_its_alerts_and_each_alert_names_its_incident(client, db, sessionmaker):
    org, *_, operator, _, _ = await regressed_host(db, sessionmaker)
    headers = await login(client, operator.username)
    (incident,) = (await client.get("/api/v1/incidents", headers=headers, params={"org_id": str(org.id)})).json()
    (alert,) = (await client.get("/api/v1/alerts", headers=headers, params={"org_id": str(org.id)})).json()
    assert alert["incident_id"] == incident["id"] and alert["acknowledged_at"] is None

    detail = (await client.get(f"/api/v1/incidents/{incident['id']}", headers=headers)).json()
    assert [a["id"] for a in detail["alerts"]] == [alert["id"]]
    assert (await client.get("/api/v1/alerts", headers=headers,
                             params={"incident_id": incident["id"]})).json()[0]["id"] == alert["id"]


async def test_an_incident_is_acknowledged_assigned_commented_and_resolved_with_a_note(client, db, sessionmaker):
    org, template, policy, host, operator, colleague, _ = await regressed_host(db, sessionmaker)
    headers = await login(client, operator.username)
    (incident,) = (await client.get("/api/v1/incidents", headers=headers, params={"org_id": str(org.id)})).json()
    url = f"/api/v1/incidents/{incident['id']}"

    acknowledged = await client.post(f"{url}/acknowledge", headers=headers)
    assert acknowledged.status_code == 200, acknowledged.text
    assert acknowledged.json()["acknowledged_by"] == str(operator.id)
    again = await client.post(f"{url}/acknowledge", headers=headers)
    assert again.json()["acknowledged_at"] == acknowledged.json()["acknowledged_at"]

    assigned = await client.post(f"{url}/assign", headers=headers, json={"user_id": str(colleague.id)})
    assert assigned.status_code == 200 and assigned.json()["assigned_to"] == str(colleague.id)
    mine = await client.get("/api/v1/incidents", headers=headers, params={"assigned_to": str(colleague.id)})
    assert [i["id"] for i in mine.json()] == [incident["id"]]

    commented = await client.post(f"{url}/comments", headers=headers, json={"comment": "looking at sshd"})
    assert commented.status_code == 201

    resolved = await client.post(f"{url}/resolve", headers=headers, json={"note": "config restored from backup"})
    assert resolved.status_code == 200
    body = resolved.json()
    assert (body["status"], body["resolved_by"], body["resolution_note"]) == (
        "resolved", str(operator.id), "config restored from backup")
    assert body["resolved_by_scan_id"] is None and body["resolved_at"] is not None
    people = [e for e in body["timeline"] if "by" in e]
    assert [(e["event"], e["by"]) for e in people] == [
        ("acknowledged", operator.username), ("assigned", operator.username), ("comment", operator.username),
        ("resolved", operator.username)]
    assert (people[1]["assigned_to"], people[2]["comment"], people[3]["note"]) == (
        colleague.username, "looking at sshd", "config restored from backup")

    assert (await client.post(f"{url}/resolve", headers=headers, json={"note": "again"})).status_code == 409
    assert (await client.post(f"{url}/acknowledge", headers=headers)).status_code == 409
    assert (await client.post(f"{url}/comments", headers=headers, json={"comment": "post-mortem"})).status_code == 201

    actions = (await db.scalars(select(AuditEntry.action).where(AuditEntry.target_id == incident["id"])
                                .order_by(AuditEntry.id))).all()
    assert actions == ["incident.acknowledge", "incident.assign", "incident.comment", "incident.resolve",
                       "incident.comment"]

    # The host fails again: resolved by hand, the incident stays closed and a new one opens.
    await run_scan(sessionmaker, policy, host.id, template, passed=7, failed=3, critical_failed=1)
    listed = (await client.get("/api/v1/incidents", headers=headers, params={"org_id": str(org.id)})).json()
    assert sorted(i["status"] for i in listed) == ["open", "resolved"]


async def test_a_resolving_scan_is_not_blocked_by_a_later_comment(client, db, sessionmaker):
    org, template, policy, host, operator, _, _ = await regressed_host(db, sessionmaker)
    headers = await login(client, operator.username)
    (incident,) = (await client.get("/api/v1/incidents", headers=headers, params={"org_id": str(org.id)})).json()
    await client.post(f"/api/v1/incidents/{incident['id']}/comments", headers=headers, json={"comment": "on it"})
    await run_scan(sessionmaker, policy, host.id, template, passed=10, failed=0)
    after = (await client.get(f"/api/v1/incidents/{incident['id']}", headers=headers)).json()
    assert after["status"] == "resolved" and after["resolved_by_scan_id"] is not None


async def test_only_members_can_be_assigned_and_only_managers_work_incidents(client, db, sessionmaker):
    org, *_, operator, _, viewer = await regressed_host(db, sessionmaker)
    outsider_org = await make_org(db)
    outsider = await make_user(db, org=outsider_org, role="operator")
    await db.commit()
    headers = await login(client, operator.username)
    (incident,) = (await client.get("/api/v1/incidents", headers=headers, params={"org_id": str(org.id)})).json()
    url = f"/api/v1/incidents/{incident['id']}"

    refused = await client.post(f"{url}/assign", headers=headers, json={"user_id": str(outsider.id)})
    assert refused.status_code == 422 and "member" in refused.text
    viewer_headers = await login(client, viewer.username)
    assert (await client.post(f"{url}/acknowledge", headers=viewer_headers)).status_code == 403
    outsider_headers = await login(client, outsider.username)
    for action, body in (("acknowledge", None), ("resolve", {"note": "x"}), ("comments", {"comment": "x"}),
                         ("assign", {"user_id": None})):
        response = await client.post(f"{url}/{action}", headers=outsider_headers, json=body)
        assert response.status_code == 404, action
    assert (await client.post(f"{url}/resolve", headers=headers, json={"note": ""})).status_code == 422
    unassigned = await client.post(f"{url}/assign", headers=headers, json={"user_id": None})
    assert unassigned.status_code == 200 and unassigned.json()["assigned_to"] is None


async def test_alerts_are_acknowledged_once_and_filtered_by_state(client, db, sessionmaker):
    org, *_, operator, _, viewer = await regressed_host(db, sessionmaker)
    headers = await login(client, operator.username)
    (alert,) = (await client.get("/api/v1/alerts", headers=headers, params={"state": "open"})).json()
    assert (await client.post(f"/api/v1/alerts/{alert['id']}/acknowledge",
                              headers=await login(client, viewer.username))).status_code == 403

    acknowledged = await client.post(f"/api/v1/alerts/{alert['id']}/acknowledge", headers=headers)
    assert acknowledged.status_code == 200 and acknowledged.json()["acknowledged_by"] == str(operator.id)
    await client.post(f"/api/v1/alerts/{alert['id']}/acknowledge", headers=headers)

    assert (await client.get("/api/v1/alerts", headers=headers, params={"state": "open"})).json() == []
    done = await client.get("/api/v1/alerts", headers=headers, params={
        "state": "acknowledged", "org_id": str(org.id), "alert_type": "compliance_score_regression",
        "severity": "warning"})
    assert [a["id"] for a in done.json()] == [alert["id"]]
    assert (await client.get("/api/v1/alerts", headers=headers, params={"state": "closed"})).status_code == 422
    audited = (await db.scalars(select(AuditEntry.action).where(AuditEntry.target_id == alert["id"]))).all()
    assert audited == ["alert.acknowledge"]
