"""The installable agent as a person installs it: downloaded from a running API process, run by a Python with no
packages (`-I -S`), enrolled with a token, and answering a scan of this very machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx

from models import ComplianceCheck, ComplianceTemplate
from stack.ports import free_port
from tests.factories import login, make_org, make_user
from tests.stack import eventually, running_stack

ROOT = Path(__file__).resolve().parents[2]
RULES = {
    "passwd-present": {"type": "file_exists", "path": "/etc/passwd", "expect": "present"},
    "made-up-file-present": {"type": "file_exists", "path": "/etc/compliance-e2e-absent", "expect": "present"},
    "os-release-names-an-id": {"type": "file_regex", "path": "/etc/os-release", "pattern": r"^ID=\w+"},
    "passwd-mode": {"type": "file_permissions", "path": "/etc/passwd", "max_mode": "0644", "owner": "root"},
    "no-such-rule-type": {"type": "sysctl", "key": "kernel.no_such_key_e2e", "expected": "1"},
}


async def small_template(db, org) -> ComplianceTemplate:
    """A published custom template of a few quick checks (the built-in ones sweep the whole filesystem)."""
    template = ComplianceTemplate(org_id=org.id, name="Install check", os_type="linux", framework="CIS", version=1,
                                  status="published", is_system=False, lineage_id=uuid.uuid4())
    db.add(template)
    await db.flush()
    db.add_all(ComplianceCheck(template_id=template.id, rule_id=key, title=key, severity="medium", rule=rule,
                               position=i) for i, (key, rule) in enumerate(RULES.items()))
    await db.flush()
    return template


async def test_a_downloaded_agent_enrolls_and_scans_this_machine_with_the_standard_library_alone(
        dev_env, db_url, app_factory, db, tmp_path):
    async with running_stack(dev_env, db_url, app_factory) as stack:
        org = await make_org(db)
        user = await make_user(db, org=org, role="operator")
        template = await small_template(db, org)
        await db.commit()
        headers = await login(stack.api, user.username)
        token = (await stack.api.post(f"/api/v1/orgs/{org.id}/enrollment-tokens", json={"max_uses": 1},
                                      headers=headers)).json()["token"]
        policy = (await stack.api.post("/api/v1/compliance/policies", headers=headers, json={
            "org_id": str(org.id), "os_type": "linux", "template_id": str(template.id)})).json()

        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = dict(os.environ, DATABASE_URL=db_url, TEMPORAL_ADDRESS=stack.settings.temporal_address,
                   TEMPORAL_TASK_QUEUE=stack.settings.temporal_task_queue, ENVIRONMENT="test",
                   JWT_SECRET="agent-install-test-secret-0123456789", API_PORT=str(port),
                   TEMPORAL_SCHEDULE_ENABLED="false")
        api_log = (tmp_path / "api.log").open("w")
        api = subprocess.Popen([sys.executable, "-m", "stack.cli", "api"], cwd=ROOT, env=env, stdout=api_log,
                               stderr=subprocess.STDOUT)
        agent = None
        try:
            async with httpx.AsyncClient(base_url=url, timeout=30) as http:
                async def ready():
                    try:
                        return (await http.get("/readyz")).status_code == 200
                    except httpx.TransportError:
                        return False

                await eventually(ready, timeout=60)
                download = await http.get("/api/v1/agent/download")
            assert download.status_code == 200
            package = tmp_path / "compliance-agent.pyz"
            package.write_bytes(download.content)
            state = tmp_path / "state"
            agent_log = (tmp_path / "agent.log").open("w")
            agent = subprocess.Popen([sys.executable, "-I", "-S", str(package), "--api", url, "--state-dir",
                                      str(state), "--enrollment-token", token], cwd=tmp_path, stdout=agent_log,
                                     stderr=subprocess.STDOUT)

            await eventually(lambda: _exists(state / "agent.json"), timeout=60)
            host_id = json.loads((state / "agent.json").read_text())["host_id"]
            scan = (await stack.api.post(f"/api/v1/compliance/policies/{policy['id']}/scan",
                                         json={"host_id": host_id}, headers=headers)).json()

            async def completed():
                body = (await stack.api.get(f"/api/v1/compliance/scans/{scan['id']}", headers=headers)).json()
                return body if body["status"] == "completed" else None

            done = await eventually(completed, timeout=90)
        finally:
            for process in (agent, api):
                if process is not None:
                    process.terminate()
                    process.wait(timeout=30)

        verdicts = {r["rule_id"]: r["status"] for r in done["results"]}
        assert verdicts == {"passwd-present": "pass", "made-up-file-present": "fail",
                            "os-release-names-an-id": "pass", "passwd-mode": "pass", "no-such-rule-type": "skip"}, \
            (tmp_path / "agent.log").read_text()[-2000:]
        assert done["total"] == len(RULES)


async def _exists(path: Path) -> bool:
    return path.exists()
