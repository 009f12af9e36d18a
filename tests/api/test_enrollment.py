"""Enrollment cannot take a host over (security review row 2): tokens are single use by default and live at most
30 days, re-enrolling a known hostname waits for an administrator, and tokens and agents can be revoked."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from models import AuditEntry
from tests.factories import login, make_org, make_user

ENROLL = "/api/v1/agent/enroll"


def facts(token: str, hostname: str, ip: str = "10.9.9.9") -> dict:
    return {"enrollment_token": token, "hostname": hostname, "os_type": "linux", "ip_address": ip}


def bearer(agent: dict) -> dict:
    return {"Authorization": f"Bearer {agent['agent_token']}"}


async def team(client, db):
    org = await make_org(db)
    operator, admin = await make_user(db, org=org, role="operator"), await make_user(db, org=org, role="admin")
    await db.commit()
    return org, await login(client, operator.username), await login(client, admin.username)


async def new_token(client, org, headers, **body) -> dict:
    response = await client.post(f"/api/v1/orgs/{org.id}/enrollment-tokens", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def test_an_enrollment_token_is_single_use_by_default(client, db):
    org, operator, _ = await team(client, db)
    token = (await new_token(client, org, operator))["token"]
    assert (await client.post(ENROLL, json=facts(token, "web-01"))).status_code == 201
    reused = await client.post(ENROLL, json=facts(token, "web-02"))
    assert reused.status_code == 401 and "used-up" in reused.json()["detail"]

    several = await new_token(client, org, operator, max_uses=2)
    assert several["max_uses"] == 2
    assert (await client.post(ENROLL, json=facts(several["token"], "web-03"))).status_code == 201
    assert (await client.post(ENROLL, json=facts(several["token"], "web-04"))).status_code == 201
    assert (await client.post(ENROLL, json=facts(several["token"], "web-05"))).status_code == 401


async def test_an_enrollment_token_lives_at_most_thirty_days(client, db):
    org, operator, _ = await team(client, db)
    too_long = await client.post(f"/api/v1/orgs/{org.id}/enrollment-tokens", json={"expires_in_hours": 24 * 365},
                                 headers=operator)
    assert too_long.status_code == 422
    assert (await new_token(client, org, operator, expires_in_hours=30 * 24))["expires_at"]


async def test_re_enrolling_a_known_hostname_waits_for_an_administrator(client, db):
    org, operator, admin = await team(client, db)
    token = (await new_token(client, org, operator, max_uses=5))["token"]
    owner = (await client.post(ENROLL, json=facts(token, "db-01"))).json()
    job_headers = bearer(owner)

    takeover = await client.post(ENROLL, json=facts(token, "db-01", ip="203.0.113.66"))
    assert takeover.status_code == 202 and takeover.json()["status"] == "pending_approval"
    intruder = takeover.json()
    assert intruder["host_id"] == owner["host_id"]
    for call in (client.get("/api/v1/agent/jobs", headers=bearer(intruder)),
                 client.post("/api/v1/agent/heartbeat", json={}, headers=bearer(intruder))):
        refused = await call
        assert refused.status_code == 401 and "approve" in refused.json()["detail"]
    assert (await client.post("/api/v1/agent/heartbeat", json={}, headers=job_headers)).status_code == 200
    host = (await client.get(f"/api/v1/hosts/{owner['host_id']}", headers=operator)).json()
    assert host["ip_address"] == "10.9.9.9"  # the waiting agent changed nothing

    pending = (await client.get(f"/api/v1/orgs/{org.id}/agents", params={"status": "pending_approval"},
                                headers=operator)).json()
    assert [a["id"] for a in pending] == [intruder["agent_id"]] and pending[0]["hostname"] == "db-01"
    url = f"/api/v1/orgs/{org.id}/agents/{intruder['agent_id']}"
    assert (await client.post(f"{url}/approve", headers=operator)).status_code == 403
    approved = await client.post(f"{url}/approve", headers=admin)
    assert approved.status_code == 200 and approved.json()["status"] == "active"
    assert (await client.post("/api/v1/agent/heartbeat", json={}, headers=bearer(intruder))).status_code == 200
    assert (await client.post("/api/v1/agent/heartbeat", json={}, headers=job_headers)).status_code == 401
    actions = (await db.scalars(select(AuditEntry.action).where(AuditEntry.org_id == org.id))).all()
    assert {"agent.enroll", "agent.enroll_pending", "agent.approve"} <= set(actions)


async def test_agents_and_enrollment_tokens_can_be_revoked(client, db):
    org, operator, _ = await team(client, db)
    token = await new_token(client, org, operator, max_uses=3)
    agent = (await client.post(ENROLL, json=facts(token["token"], "app-01"))).json()

    listed = (await client.get(f"/api/v1/orgs/{org.id}/enrollment-tokens", headers=operator)).json()
    assert [(t["id"], t["uses"], t["max_uses"]) for t in listed] == [(token["id"], 1, 3)]
    assert all("token" not in t for t in listed)
    revoked = await client.delete(f"/api/v1/orgs/{org.id}/enrollment-tokens/{token['id']}", headers=operator)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert (await client.post(ENROLL, json=facts(token["token"], "app-02"))).status_code == 401

    gone = await client.post(f"/api/v1/orgs/{org.id}/agents/{agent['agent_id']}/revoke", headers=operator)
    assert gone.status_code == 200 and gone.json()["status"] == "revoked"
    assert (await client.post("/api/v1/agent/heartbeat", json={}, headers=bearer(agent))).status_code == 401


async def test_another_orgs_agents_and_tokens_are_not_found(client, db):
    org, operator, _ = await team(client, db)
    other, other_operator, _ = await team(client, db)
    token = await new_token(client, org, operator)
    agent = (await client.post(ENROLL, json=facts(token["token"], "mine-01"))).json()
    for method, url in (("GET", f"/api/v1/orgs/{org.id}/agents"), ("GET", f"/api/v1/orgs/{org.id}/enrollment-tokens"),
                        ("POST", f"/api/v1/orgs/{org.id}/agents/{agent['agent_id']}/revoke"),
                        ("POST", f"/api/v1/orgs/{other.id}/agents/{agent['agent_id']}/revoke"),
                        ("DELETE", f"/api/v1/orgs/{other.id}/enrollment-tokens/{token['id']}"),
                        ("POST", f"/api/v1/orgs/{other.id}/agents/{uuid.uuid4()}/approve")):
        response = await client.request(method, url, headers=other_operator)
        assert response.status_code == 404, (method, url, response.status_code)
