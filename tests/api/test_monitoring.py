"""Post-scan evaluation (notifications, regression alerts, incidents) and the monitoring API."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from models import Alert, AuditEntry, Incident, Notification, Webhook
from services.incidents import evaluate_scans
from services.scan_recording import load_checks
from tests.factories import login, make_host, make_org, make_user
from tests.scan_builders import make_policy, make_template, open_scan, past_scan, record, run_scan


async def seeded(db, **template_options):
    org = await make_org(db)
    template = await make_template(db, org, **template_options)
    policy = await make_policy(db, org, template)
    return org, template, policy


async def notifications_of(db, host_id) -> list[tuple[str, str]]:
    rows = await db.execute(select(Notification.kind, Notification.severity).where(Notification.host_id == host_id))
    return sorted(tuple(r) for r in rows)


async def test_score_thresholds_notify_at_their_boundaries(db, sessionmaker):
    org, template, policy = await seeded(db)
    hosts = {name: await make_host(db, org, hostname=name) for name in ("h70", "h69", "h50", "h48")}
    await db.commit()
    scores = {}
    for name, (passed, failed) in {"h70": (7, 3), "h69": (23, 10), "h50": (1, 1), "h48": (18, 19)}.items():
        scores[name] = (await run_scan(sessionmaker, policy, hosts[name].id, template, passed=passed,
                                       failed=failed)).score
    assert scores == {"h70": 70.0, "h69": 69.7, "h50": 50.0, "h48": 48.65}

    assert await notifications_of(db, hosts["h70"].id) == []
    assert await notifications_of(db, hosts["h69"].id) == [("compliance_score_low", "warning")]
    assert await notifications_of(db, hosts["h50"].id) == [("compliance_score_low", "warning")]
    assert await notifications_of(db, hosts["h48"].id) == [("compliance_score_critical", "critical")]
    incidents = (await db.scalars(select(Incident))).all()
    assert [(i.host_id, i.severity, i.timeline[0]["reasons"]) for i in incidents] == [
        (hosts["h48"].id, "critical", ["score_below_50"])]
    assert incidents[0].title == "h48: score below 50%"


async def test_a_drop_of_exactly_ten_points_is_no_regression_but_ten_point_zero_one_is(db, sessionmaker):
    org, template, policy = await seeded(db)
    exact, over = await make_host(db, org, hostname="exact"), await make_host(db, org, hostname="over")
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    await past_scan(db, policy, exact.id, template, 80.0, an_hour_ago)
    await past_scan(db, policy, over.id, template, 80.01, an_hour_ago)
    await db.commit()

    current_exact = await run_scan(sessionmaker, policy, exact.id, template, passed=7, failed=3)
    current_over = await run_scan(sessionmaker, policy, over.id, template, passed=7, failed=3)
    assert current_exact.score == current_over.score == 70.0

    alerts = (await db.scalars(select(Alert))).all()
    assert [(a.host_id, a.scan_id, a.alert_type, a.severity) for a in alerts] == [
        (over.id, current_over.scan_id, "compliance_score_regression", "warning")]
    assert alerts[0].details == {"baseline_type": "previous_scan", "baseline_score": 80.01, "current_score": 70.0,
                                 "drop_percentage": 10.01}
    incidents = (await db.scalars(select(Incident))).all()
    assert [(i.host_id, i.severity, i.timeline[0]["reasons"]) for i in incidents] == [
        (over.id, "warning", ["score_regression"])]


async def test_three_scans_in_seven_days_give_a_rolling_baseline_two_fall_back_to_the_previous_scan(db, sessionmaker):
    org, template, policy = await seeded(db)
    two, three = await make_host(db, org, hostname="two"), await make_host(db, org, hostname="three")
    now = datetime.now(UTC)
    for host, history in ((two, [(8, 100.0), (2, 90.0), (1, 60.0)]),
                          (three, [(8, 100.0), (3, 90.0), (2, 90.0), (1, 60.0)])):
        for days_ago, score in history:
            await past_scan(db, policy, host.id, template, score, now - timedelta(days=days_ago))
    await db.commit()

    # two: the 8-day-old 100 is outside the window, leaving [90, 60] → previous scan 60 → 65 is no drop.
    await run_scan(sessionmaker, policy, two.id, template, passed=13, failed=7)
    # three: [90, 90, 60] → rolling mean 80 → 65 is a 15-point drop.
    current = await run_scan(sessionmaker, policy, three.id, template, passed=13, failed=7)
    assert current.score == 65.0

    alerts = (await db.scalars(select(Alert))).all()
    assert [(a.host_id, a.details) for a in alerts] == [(three.id, {
        "baseline_type": "rolling_7d", "baseline_score": 80.0, "current_score": 65.0, "drop_percentage": 15.0})]
    assert "7-day average" in alerts[0].message


async def test_incident_opens_extends_and_resolves_itself(db, sessionmaker):
    org, template, policy = await seeded(db)
    host = await make_host(db, org, hostname="web-01")
    await db.commit()
    start = datetime.now(UTC) - timedelta(hours=3)

    first = await run_scan(sessionmaker, policy, host.id, template, passed=30, failed=0, critical_failed=1,
                           at=start)
    second = await run_scan(sessionmaker, policy, host.id, template, passed=30, failed=0, critical_failed=2,
                            at=start + timedelta(hours=1))
    incident = (await db.scalars(select(Incident))).one()
    assert incident.status == "open" and incident.opened_by_scan_id == first.scan_id
    assert [(e["event"], e["scan_id"]) for e in incident.timeline] == [
        ("opened", str(first.scan_id)), ("triggered", str(second.scan_id))]
    assert incident.timeline[1]["failed_critical_checks"] == ["R000", "R001"]

    clean = await run_scan(sessionmaker, policy, host.id, template, passed=30, at=start + timedelta(hours=2))
    await db.refresh(incident)
    assert incident.status == "resolved" and incident.resolved_by_scan_id == clean.scan_id
    assert incident.resolved_at == clean.completed_at
    assert incident.timeline[-1]["event"] == "resolved" and len(incident.timeline) == 3

    again = await run_scan(sessionmaker, policy, host.id, template, passed=5, failed=10,
                           at=start + timedelta(hours=2, minutes=30))
    rows = (await db.scalars(select(Incident).order_by(Incident.created_at))).all()
    assert [(i.status, i.opened_by_scan_id) for i in rows] == [("resolved", first.scan_id), ("open", again.scan_id)]


async def test_a_scan_without_score_resolves_nothing(db, sessionmaker):
    org, template, policy = await seeded(db)
    host = await make_host(db, org)
    await db.commit()
    await run_scan(sessionmaker, policy, host.id, template, passed=1, failed=5)
    await run_scan(sessionmaker, policy, host.id, template, passed=0)  # everything skipped: no score
    assert (await db.scalars(select(Incident.status))).all() == ["open"]


async def test_evaluating_a_scan_again_creates_nothing_twice(db, sessionmaker):
    org, template, policy = await seeded(db)
    host = await make_host(db, org)
    await past_scan(db, policy, host.id, template, 95.0, datetime.now(UTC) - timedelta(hours=2))
    await db.commit()
    scan_id = await open_scan(sessionmaker, policy, host.id, template, passed=3, failed=7, critical_failed=1)
    (scored,) = await record(sessionmaker, [scan_id])
    assert await record(sessionmaker, [scan_id]) == []  # a retried recording finds the scan already recorded

    async def snapshot():
        async with sessionmaker() as s:
            counts = [await s.scalar(select(func.count()).select_from(m)) for m in (Notification, Alert, Incident)]
            timelines = [len(t) for t in await s.scalars(select(Incident.timeline))]
            return counts, timelines

    before = await snapshot()
    assert before == ([1, 1, 1], [1])
    for _ in range(2):  # the evaluation itself, re-run for the same scan, is a no-op
        async with sessionmaker() as s, s.begin():
            checks = await load_checks(s, {template.template.id})
            assert await evaluate_scans(s, [scored], checks, datetime.now(UTC)) == []
    assert await snapshot() == before

    resolving = await run_scan(sessionmaker, policy, host.id, template, passed=10)
    async with sessionmaker() as s, s.begin():
        checks = await load_checks(s, {template.template.id})
        await evaluate_scans(s, [resolving, scored], checks, datetime.now(UTC))
    incident = (await db.scalars(select(Incident))).one()
    assert incident.status == "resolved" and [e["event"] for e in incident.timeline] == ["opened", "resolved"]


async def test_two_concurrent_recordings_open_exactly_one_incident(db, sessionmaker):
    org, template, policy = await seeded(db)
    host = await make_host(db, org)
    await db.commit()
    now = datetime.now(UTC)
    first_id = await open_scan(sessionmaker, policy, host.id, template, passed=30, critical_failed=1,
                               at=now - timedelta(minutes=2))
    (first,) = await record(sessionmaker, [first_id])
    second_id = await open_scan(sessionmaker, policy, host.id, template, passed=2, failed=8,
                                at=now - timedelta(minutes=1))
    (second,) = await record(sessionmaker, [second_id])
    async with sessionmaker() as s, s.begin():
        await s.execute(Incident.__table__.delete())
        checks = await load_checks(s, {template.template.id})

    # Replay both evaluations at once: the first holds its transaction open after inserting the incident.
    inserted = asyncio.Event()
    release = asyncio.Event()

    async def hold_open():
        async with sessionmaker() as s, s.begin():
            await evaluate_scans(s, [first], checks, now)
            inserted.set()
            await release.wait()

    async def race():
        await inserted.wait()
        async with sessionmaker() as s, s.begin():
            await evaluate_scans(s, [second], checks, now)

    holder, racer = asyncio.create_task(hold_open()), asyncio.create_task(race())
    await inserted.wait()
    await asyncio.sleep(0.5)
    assert not racer.done()  # blocked on the one-open-incident index, not failing and not duplicating
    release.set()
    await asyncio.gather(holder, racer)

    incidents = (await db.scalars(select(Incident))).all()
    assert len(incidents) == 1 and incidents[0].status == "open"
    assert [e["scan_id"] for e in incidents[0].timeline] == [str(first.scan_id), str(second.scan_id)]
    assert incidents[0].severity == "critical"


async def monitoring_orgs(db, sessionmaker):
    """Two organizations with an open incident, a notification and an alert each."""
    orgs = []
    for name in ("alpha", "beta"):
        org, template, policy = await seeded(db)
        host = await make_host(db, org, hostname=f"{name}-host")
        await past_scan(db, policy, host.id, template, 99.0, datetime.now(UTC) - timedelta(hours=1))
        await db.commit()
        await run_scan(sessionmaker, policy, host.id, template, passed=3, failed=7)
        orgs.append(org)
    return orgs


async def test_lists_are_paged_and_scoped_to_the_callers_organizations(client, db, sessionmaker):
    alpha, beta = await monitoring_orgs(db, sessionmaker)
    viewer = await make_user(db, org=alpha, role="viewer")
    await db.commit()
    headers = await login(client, viewer.username)
    beta_incident = await db.scalar(select(Incident.id).where(Incident.org_id == beta.id))

    for path, field in (("alerts", "alert_type"), ("incidents", "status"), ("notifications", "kind")):
        response = await client.get(f"/api/v1/{path}", headers=headers)
        assert response.status_code == 200, response.text
        assert response.headers["X-Total-Count"] == "1"
        assert [r["org_id"] for r in response.json()] == [str(alpha.id)] and field in response.json()[0]
        assert (await client.get(f"/api/v1/{path}?org_id={beta.id}", headers=headers)).status_code == 404

    alert = (await client.get("/api/v1/alerts", headers=headers)).json()[0]
    assert alert["metadata"]["baseline_type"] == "previous_scan" and alert["metadata"]["drop_percentage"] == 69.0
    assert (await client.get("/api/v1/incidents?status=resolved", headers=headers)).json() == []
    opened = await client.get("/api/v1/incidents?status=open&page_size=1", headers=headers)
    assert opened.headers["X-Total-Count"] == "1" and opened.json()[0]["timeline"][0]["event"] == "opened"
    assert (await client.get(f"/api/v1/incidents/{opened.json()[0]['id']}", headers=headers)).status_code == 200
    assert (await client.get(f"/api/v1/incidents/{beta_incident}", headers=headers)).status_code == 404
    assert (await client.get(f"/api/v1/incidents/{uuid.uuid4()}", headers=headers)).status_code == 404
    assert (await client.get("/api/v1/incidents?status=closed", headers=headers)).status_code == 422


async def test_webhooks_are_managed_per_organization_and_never_reveal_their_secret(client, db):
    org, other = await make_org(db), await make_org(db)
    operator = await make_user(db, org=org, role="operator")
    viewer = await make_user(db, org=org, role="viewer")
    await db.commit()
    op_headers, view_headers = await login(client, operator.username), await login(client, viewer.username)
    url = f"/api/v1/orgs/{org.id}/webhooks"
    body = {"url": "https://hooks.example.com/compliance", "secret": "s3cret-s3cret-s3cret"}

    assert (await client.post(url, json=body, headers=view_headers)).status_code == 403
    for bad in ({**body, "url": "ftp://hooks.example.com/x"}, {**body, "url": "not a url"},
                {**body, "secret": "short"}, {**body, "owner": "me"}):
        assert (await client.post(url, json=bad, headers=op_headers)).status_code == 422, bad
    created = await client.post(url, json=body, headers=op_headers)
    assert created.status_code == 201, created.text
    hook = created.json()
    assert hook["enabled"] is True and hook["url"] == body["url"] and "secret" not in hook

    listed = await client.get(url, headers=view_headers)
    assert [h["id"] for h in listed.json()] == [hook["id"]] and listed.headers["X-Total-Count"] == "1"
    assert "secret" not in listed.json()[0]
    assert (await client.get(f"/api/v1/orgs/{other.id}/webhooks", headers=op_headers)).status_code == 404
    assert (await client.post(f"/api/v1/orgs/{other.id}/webhooks", json=body,
                              headers=op_headers)).status_code == 404

    patched = await client.patch(f"{url}/{hook['id']}", json={"enabled": False, "secret": "rotated-rotated-1"},
                                 headers=op_headers)
    assert patched.status_code == 200 and patched.json()["enabled"] is False
    stored = await db.get(Webhook, uuid.UUID(hook["id"]))
    assert stored.secret == "rotated-rotated-1"
    deliveries = await client.get(f"{url}/{hook['id']}/deliveries", headers=view_headers)
    assert deliveries.status_code == 200 and deliveries.json() == []
    assert (await client.delete(f"{url}/{hook['id']}", headers=view_headers)).status_code == 403
    assert (await client.delete(f"{url}/{hook['id']}", headers=op_headers)).status_code == 204
    actions = (await db.scalars(select(AuditEntry.action).where(AuditEntry.org_id == org.id)
                                .order_by(AuditEntry.id))).all()
    assert actions == ["webhook.create", "webhook.update", "webhook.delete"]
    logged = (await db.scalars(select(AuditEntry).where(AuditEntry.org_id == org.id))).all()
    assert all("s3cret" not in str(e.after) and "rotated-rotated-1" not in str(e.after) for e in logged)
