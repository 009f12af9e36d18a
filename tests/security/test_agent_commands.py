"""Row 3 (agent side): a custom `command_output` rule published and scanned does not run as root on the host, and
a `file_regex` rule on /etc/shadow reports no password hash — through the real API, Temporal and agent runner."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.host import LocalHost
from agent.pinning import ALLOW_CUSTOM_COMMANDS_ENV, argv_digest, builtin_command_digests, refusal
from agent.runner import run_job
from tests.factories import login, make_org, make_user
from tests.stack import eventually, running_stack, system_template_id

BASE = "/api/v1/compliance/templates"
CUSTOM = {"type": "command_output", "argv": ["sh", "-c", "id"], "pattern": "uid="}
SHADOW = {"type": "file_regex", "path": "/etc/shadow", "pattern": "^root:"}


def custom_check(rule_id: str, rule: dict) -> dict:
    return {"rule_id": rule_id, "title": rule_id, "severity": "high", "rule": rule}


async def published_template(api, headers, source, org_id) -> tuple[dict, dict]:
    """A copy of CIS Linux L1 with one built-in command check left on and the attacker's two checks added."""
    draft = (await api.post(f"{BASE}/{source}/copy", json={"org_id": str(org_id), "name": "tampered"},
                            headers=headers)).json()
    builtin = next(c for c in draft["checks"] if c["rule"]["type"] == "command_output")
    others = [c["id"] for c in draft["checks"] if c["id"] != builtin["id"]]
    toggled = await api.post(f"{BASE}/{draft['id']}/checks/bulk-toggle", json={"check_ids": others, "enabled": False},
                             headers=headers)
    assert toggled.status_code == 200, toggled.text
    for rule_id, rule in (("custom.id", CUSTOM), ("custom.shadow", SHADOW)):
        added = await api.post(f"{BASE}/{draft['id']}/checks", json=custom_check(rule_id, rule), headers=headers)
        assert added.status_code == 201, added.text
    published = await api.patch(f"{BASE}/{draft['id']}", json={"status": "published"}, headers=headers)
    assert published.status_code == 200, published.text
    return published.json(), builtin


@pytest.mark.skipif(not Path("/etc/shadow").exists(), reason="needs a host with /etc/shadow")
async def test_a_custom_command_is_refused_and_shadow_lines_are_redacted(dev_env, db_url, app_factory, db):
    async with running_stack(dev_env, db_url, app_factory) as stack:
        org = await make_org(db)
        operator = await make_user(db, org=org, role="operator")
        source = await system_template_id(db)
        await db.commit()
        headers = await login(stack.api, operator.username)
        template, builtin = await published_template(stack.api, headers, source, org.id)
        policy = await stack.api.post("/api/v1/compliance/policies", headers=headers, json={
            "org_id": str(org.id), "os_type": "linux", "template_id": template["id"]})
        assert policy.status_code == 201, policy.text
        token = (await stack.api.post(f"/api/v1/orgs/{org.id}/enrollment-tokens", json={}, headers=headers)).json()
        enrolled = (await stack.api.post("/api/v1/agent/enroll", json={
            "enrollment_token": token["token"], "hostname": "this-host", "os_type": "linux",
            "ip_address": "127.0.0.1"})).json()
        agent = {"Authorization": f"Bearer {enrolled['agent_token']}"}
        requested = await stack.api.post(f"/api/v1/compliance/policies/{policy.json()['id']}/scan",
                                         json={"host_id": enrolled["host_id"]}, headers=headers)
        assert requested.status_code == 202, requested.text

        async def delivered():
            return (await stack.api.get("/api/v1/agent/jobs?wait=1", headers=agent)).json()

        (job,) = await eventually(delivered)
        # The agent's own code on this very machine, as `python -m agent` runs it, with its defaults.
        result = await run_job(job, LocalHost())
        posted = await stack.api.post(f"/api/v1/agent/jobs/{job['id']}/result", json=result, headers=agent)
        assert posted.status_code in (200, 202), posted.text

        async def completed():
            scan = (await stack.api.get(f"/api/v1/compliance/scans/{requested.json()['id']}", headers=headers)).json()
            return scan if scan["status"] == "completed" else None

        scan = await eventually(completed)
    results = {r["rule_id"]: r for r in scan["results"]}
    assert results["custom.id"]["status"] == "error"
    assert results["custom.id"]["actual"].startswith("refused: command ['sh', '-c', 'id'] is not part of the built")
    assert "uid=" not in results["custom.id"]["actual"]
    assert results["custom.shadow"]["actual"] == "root:<redacted>" or "no line" in results["custom.shadow"]["actual"]
    assert "$" not in results["custom.shadow"]["actual"]
    assert not results[builtin["rule_id"]]["actual"].startswith("refused")


def test_the_built_in_commands_are_pinned_and_only_the_host_can_allow_others(monkeypatch):
    assert len(builtin_command_digests()) >= 10
    assert argv_digest(["sh", "-c", "id"]) not in builtin_command_digests()
    assert refusal(CUSTOM, allow_custom=False).startswith("refused")
    assert refusal(CUSTOM, allow_custom=True) is None
    assert refusal(SHADOW, allow_custom=False) is None  # no command: nothing to pin
    from agent.pinning import custom_commands_allowed

    monkeypatch.delenv(ALLOW_CUSTOM_COMMANDS_ENV, raising=False)
    assert custom_commands_allowed() is False
    monkeypatch.setenv(ALLOW_CUSTOM_COMMANDS_ENV, "1")
    assert custom_commands_allowed() is True


async def test_a_host_that_allows_custom_commands_runs_them():
    job = {"id": "j", "kind": "compliance_check",
           "payload": {"checks": [{"check_id": "c", "rule": {**CUSTOM, "argv": ["echo", "uid=fine"]}}]}}
    refused = await run_job(job, LocalHost())
    assert refused["results"][0]["status"] == "error"
    allowed = await run_job(job, LocalHost(), allow_custom_commands=True)
    assert allowed["results"][0] == {"check_id": "c", "status": "pass", "actual": "uid=fine"}
