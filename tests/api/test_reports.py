"""Dashboard, trends, host report and CSV export over a small fleet whose numbers are worked out by hand."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta

from tests.factories import login, make_host, make_org, make_user
from tests.scan_builders import make_policy, make_template, run_scan

TRICKY = 'PermitRootLogin yes, "really"\nsecond line'


def at(day: date, minute: int = 0) -> datetime:
    return datetime.combine(day, time(0, 30 + minute), UTC)


async def fleet(db, sessionmaker):
    """alpha: lin-a 50 (2 days ago) then 80 (today), lin-b 40 (yesterday), win-c 90 (today, STIG); beta: 10."""
    today = datetime.now(UTC).date()
    alpha, beta = await make_org(db, "alpha"), await make_org(db, "beta")
    cis = await make_template(db, alpha, framework="CIS", name="CIS Linux")
    stig = await make_template(db, alpha, framework="STIG", name="STIG Windows", os_type="windows")
    linux = await make_policy(db, alpha, cis, name="Linux servers")
    windows = await make_policy(db, alpha, stig, os_type="windows", name="Windows servers")
    lin_a = await make_host(db, alpha, hostname="lin-a", ip="10.0.0.1")
    lin_b = await make_host(db, alpha, hostname="lin-b", ip="10.0.0.2")
    win_c = await make_host(db, alpha, hostname="win-c", os_type="windows", ip="10.0.0.3")
    beta_cis = await make_template(db, beta)
    beta_policy = await make_policy(db, beta, beta_cis)
    beta_host = await make_host(db, beta, hostname="lin-beta")
    await db.commit()

    await run_scan(sessionmaker, linux, lin_a.id, cis, passed=1, failed=1, at=at(today - timedelta(days=2)))
    await run_scan(sessionmaker, linux, lin_a.id, cis, passed=8, failed=2, at=at(today),
                   actual={cis.medium[0].id: TRICKY})
    await run_scan(sessionmaker, linux, lin_b.id, cis, passed=4, failed=6, at=at(today - timedelta(days=1)))
    await run_scan(sessionmaker, windows, win_c.id, stig, passed=9, failed=1, at=at(today, 1))
    await run_scan(sessionmaker, beta_policy, beta_host.id, beta_cis, passed=1, failed=9, at=at(today))
    viewer = await make_user(db, org=alpha, role="viewer")
    await db.commit()
    return {"alpha": alpha, "beta": beta, "cis": cis, "stig": stig, "linux": linux, "windows": windows,
            "viewer": viewer, "today": today}


def failing(rule_id: str, template, hosts: int) -> dict:
    check = next(c for c in template.medium if c.rule_id == rule_id)
    return {"check_id": str(check.id), "rule_id": rule_id, "title": check.title, "severity": "medium",
            "failing_hosts": hosts}


def expected_failing(f) -> list[dict]:
    # lin-a fails medium[8:10] = R010, R011; lin-b fails medium[4:10] = R006…R011; win-c fails STIG R011.
    return [failing("R010", f["cis"], 2), failing("R011", f["cis"], 2), failing("R006", f["cis"], 1),
            failing("R007", f["cis"], 1), failing("R008", f["cis"], 1), failing("R009", f["cis"], 1),
            failing("R011", f["stig"], 1)]


async def test_dashboard_numbers(client, db, sessionmaker):
    f = await fleet(db, sessionmaker)
    headers = await login(client, f["viewer"].username)
    response = await client.get("/api/v1/compliance/dashboard", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["total_policies"], body["total_scans"], body["hosts_scanned"]) == (2, 4, 3)
    assert body["average_score"] == 70.0  # (80 + 40 + 90) / 3, latest scans only
    assert body["frameworks"] == [{"framework": "CIS", "average_score": 60.0, "hosts": 2},
                                  {"framework": "STIG", "average_score": 90.0, "hosts": 1}]
    assert [(h["hostname"], h["score"]) for h in body["worst_hosts"]] == [("lin-b", 40.0), ("lin-a", 80.0),
                                                                         ("win-c", 90.0)]
    assert body["top_failing_checks"] == expected_failing(f)

    same = await client.get(f"/api/v1/compliance/dashboard?org_id={f['alpha'].id}", headers=headers)
    assert same.json() == body
    assert (await client.get(f"/api/v1/compliance/dashboard?org_id={f['beta'].id}",
                             headers=headers)).status_code == 404


async def test_trends_fill_empty_days_and_summarize_the_range(client, db, sessionmaker):
    f = await fleet(db, sessionmaker)
    headers = await login(client, f["viewer"].username)
    body = (await client.get("/api/v1/compliance/trends?days=7", headers=headers)).json()
    today = f["today"]
    assert (body["days"], body["start"], body["end"]) == (7, str(today - timedelta(days=6)), str(today))
    points = {p["date"]: p for p in body["points"]}
    assert len(body["points"]) == 7 and [p["date"] for p in body["points"]] == sorted(points)
    assert points[str(today)] == {"date": str(today), "average_score": 85.0, "min_score": 80.0,
                                  "max_score": 90.0, "scans": 2}
    assert points[str(today - timedelta(days=1))]["average_score"] == 40.0
    assert points[str(today - timedelta(days=2))]["max_score"] == 50.0
    assert points[str(today - timedelta(days=3))] == {"date": str(today - timedelta(days=3)), "average_score": None,
                                                      "min_score": None, "max_score": None, "scans": 0}
    # (50 + 80 + 40 + 90) / 4 over every scan in range, not the mean of daily means.
    assert body["summary"] == {"average_score": 65.0, "min_score": 40.0, "max_score": 90.0, "scans": 4}

    assert len((await client.get("/api/v1/compliance/trends?days=90", headers=headers)).json()["points"]) == 90
    for bad in ("5", "31", "abc"):
        assert (await client.get(f"/api/v1/compliance/trends?days={bad}", headers=headers)).status_code == 422
    assert (await client.get(f"/api/v1/compliance/trends?org_id={f['beta'].id}",
                             headers=headers)).status_code == 404


async def test_report_pages_hosts_and_lists_failing_checks(client, db, sessionmaker):
    f = await fleet(db, sessionmaker)
    headers = await login(client, f["viewer"].username)
    response = await client.get("/api/v1/compliance/report", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["summary"] == {"total_hosts": 3, "avg_score": 70.0, "hosts_above_80": 2, "hosts_below_50": 1,
                               "incomplete_hosts": 0}
    assert body["by_framework"] == [{"framework": "CIS", "average_score": 60.0, "hosts": 2},
                                    {"framework": "STIG", "average_score": 90.0, "hosts": 1}]
    assert response.headers["X-Total-Count"] == "3" and body["failing_checks"] is None
    lin_a = body["hosts"][0]
    assert {k: lin_a[k] for k in ("hostname", "ip_address", "policy_name", "framework", "template_name",
                                  "template_version", "score", "total", "passed", "failed", "skipped")} == {
        "hostname": "lin-a", "ip_address": "10.0.0.1", "policy_name": "Linux servers", "framework": "CIS",
        "template_name": "CIS Linux", "template_version": 3, "score": 80.0, "total": 40, "passed": 8,
        "failed": 2, "skipped": 30}
    assert lin_a["last_scan_at"].startswith(str(f["today"]))

    searched = await client.get("/api/v1/compliance/report?search=LIN-&page_size=1&page=2", headers=headers)
    assert searched.headers["X-Total-Count"] == "2"
    assert [h["hostname"] for h in searched.json()["hosts"]] == ["lin-b"]
    assert searched.json()["summary"]["total_hosts"] == 3

    detailed = (await client.get("/api/v1/compliance/report?include_details=true", headers=headers)).json()
    assert detailed["failing_checks"] == expected_failing(f)


async def test_csv_export_streams_every_latest_check_with_correct_quoting(client, db, sessionmaker):
    f = await fleet(db, sessionmaker)
    headers = await login(client, f["viewer"].username)
    response = await client.get("/api/v1/compliance/export.csv", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text, newline="")))
    assert rows[0] == ["hostname", "ip_address", "policy_id", "policy_name", "template_name", "template_version",
                       "rule_id", "title", "severity", "status", "actual", "scanned_at"]
    data = rows[1:]
    assert len(data) == 3 * 40  # three hosts × forty checks of their latest scan; beta's host is absent
    assert {r[0] for r in data} == {"lin-a", "lin-b", "win-c"}
    tricky = next(r for r in data if r[0] == "lin-a" and r[6] == "R002")
    assert tricky[10] == TRICKY and tricky[9] == "pass"
    assert tricky[2:6] == [str(f["linux"].id), "Linux servers", "CIS Linux", "3"]
    lin_b = [r for r in data if r[0] == "lin-b"]
    assert sum(r[9] == "fail" for r in lin_b) == 6 and sum(r[9] == "pass" for r in lin_b) == 4
    assert datetime.fromisoformat(lin_b[0][11]) == at(f["today"] - timedelta(days=1))

    beta_only = await client.get(f"/api/v1/compliance/export.csv?org_id={f['beta'].id}", headers=headers)
    assert beta_only.status_code == 404
