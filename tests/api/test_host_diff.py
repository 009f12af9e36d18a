"""Investigating a score drop: what changed on a host between two scans."""

from __future__ import annotations

from tests.factories import login, make_host, make_org, make_user
from tests.scan_builders import make_policy, make_template, open_scan, record


async def test_the_diff_lists_checks_whose_status_changed_with_both_actual_values(client, db, sessionmaker):
    org = await make_org(db)
    template = await make_template(db, org, checks=10, critical=0)
    policy = await make_policy(db, org, template)
    host, quiet = await make_host(db, org, hostname="web"), await make_host(db, org, hostname="quiet")
    user = await make_user(db, org=org, role="viewer")
    await db.commit()
    headers = await login(client, user.username)
    drifted = template.medium[5]
    (first,) = await record(sessionmaker, [await open_scan(sessionmaker, policy, host.id, template, passed=6,
                                                           failed=2, actual={drifted.id: "PermitRootLogin no"})])
    (second,) = await record(sessionmaker, [await open_scan(sessionmaker, policy, host.id, template, passed=5,
                                                            failed=3, actual={drifted.id: "PermitRootLogin yes"})])

    response = await client.get(f"/api/v1/compliance/hosts/{host.id}/diff", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["from_scan"]["id"], body["to_scan"]["id"]) == (str(first.scan_id), str(second.scan_id))
    assert body["from_scan"]["score"] == 75.0 and body["to_scan"]["score"] == 62.5
    assert body["changes"] == [{
        "check_id": str(drifted.id), "rule_id": drifted.rule_id, "title": drifted.title, "severity": "medium",
        "from_status": "pass", "to_status": "fail", "from_actual": "PermitRootLogin no",
        "to_actual": "PermitRootLogin yes"}]

    backwards = await client.get(f"/api/v1/compliance/hosts/{host.id}/diff", headers=headers,
                                 params={"from_scan": str(second.scan_id), "to_scan": str(first.scan_id)})
    assert [(c["from_status"], c["to_status"]) for c in backwards.json()["changes"]] == [("fail", "pass")]
    same = await client.get(f"/api/v1/compliance/hosts/{host.id}/diff", headers=headers,
                            params={"from_scan": str(first.scan_id), "to_scan": str(first.scan_id)})
    assert same.json()["changes"] == []

    # Too little history, a scan of another host, another organization's host.
    assert (await client.get(f"/api/v1/compliance/hosts/{quiet.id}/diff", headers=headers)).status_code == 400
    (lonely,) = await record(sessionmaker, [await open_scan(sessionmaker, policy, quiet.id, template, passed=1)])
    only_one = await client.get(f"/api/v1/compliance/hosts/{quiet.id}/diff", headers=headers)
    assert only_one.status_code == 400 and "earlier" in only_one.json()["detail"]
    foreign_scan = await client.get(f"/api/v1/compliance/hosts/{host.id}/diff", headers=headers,
                                    params={"from_scan": str(lonely.scan_id)})
    assert foreign_scan.status_code == 404
    stranger = await make_user(db, org=await make_org(db), role="operator")
    await db.commit()
    hidden = await client.get(f"/api/v1/compliance/hosts/{host.id}/diff",
                              headers=await login(client, stranger.username))
    assert hidden.status_code == 404
