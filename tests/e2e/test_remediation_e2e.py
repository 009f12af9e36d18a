"""Remediation end to end on the dev server: failed check → change record → CAB approval → fix on the agent →
verify scan that passes the check."""

from __future__ import annotations

from agent.fleet import Fleet
from tests.e2e.test_scan_end_to_end import save_history, setup_org
from tests.stack import eventually, running_stack
from tests.workflows.test_remediation import LOW_RULE, OnlyFailing


async def test_approved_change_fixes_the_check_and_the_verify_scan_passes(dev_env, db_url, app_factory, db):
    async with running_stack(dev_env, db_url, app_factory, verify_delay_seconds=1,
                             agent_result_timeout_seconds=30) as stack:
        org, headers, token, policy = await setup_org(stack, db)
        api = stack.api
        patched = await api.patch(f"/api/v1/compliance/policies/{policy['id']}", headers=headers,
                                  json={"approval_mode": "manual", "auto_remediate_low": True})
        assert patched.status_code == 200, patched.text
        fleet = Fleet(api, "http://test", OnlyFailing(failing=frozenset({LOW_RULE})))
        (host,) = await fleet.enroll(1, token, prefix="e2e-fix")
        fleet.start(wait=2)
        try:
            scan = (await api.post(f"/api/v1/compliance/policies/{policy['id']}/scan", headers=headers,
                                   json={"host_id": host.host_id})).json()

            async def pending():
                found = (await api.get("/api/v1/changes", headers=headers,
                                       params={"status": "pending_approval", "host_id": host.host_id})).json()
                return found[0] if found else None

            change = await eventually(pending)
            assert change["scan_id"] == scan["id"] and change["org_id"] == str(org.id)
            assert change["details"]["what"]["rule_id"] == LOW_RULE
            approved = await api.post(f"/api/v1/changes/{change['id']}/approve", headers=headers,
                                      json={"reason": "CAB-1234"})
            assert approved.status_code == 200, approved.text

            async def verified():
                body = (await api.get(f"/api/v1/compliance/remediations/{change['remediation_id']}",
                                      headers=headers)).json()
                verify_id = body["remediation"]["verify_scan_id"]
                if not verify_id:
                    return None
                verify = (await api.get(f"/api/v1/compliance/scans/{verify_id}", headers=headers)).json()
                return (body, verify) if verify["status"] == "completed" else None

            body, verify = await eventually(verified, timeout=60)
        finally:
            await fleet.stop()

        assert body["remediation"]["status"] == "completed" and body["change"]["status"] == "completed"
        assert body["change"]["decided_by"] and body["change"]["reason"] == "CAB-1234"
        assert verify["scan_type"] == "verify"
        (fixed,) = [r for r in verify["results"] if r["rule_id"] == LOW_RULE]
        assert fixed["status"] == "pass" and verify["failed"] == 0

        original = (await api.get(f"/api/v1/compliance/scans/{scan['id']}", headers=headers)).json()
        (shown,) = [r["remediation"] for r in original["results"] if r["rule_id"] == LOW_RULE]
        assert shown["status"] == "completed" and shown["exit_code"] == 0 and shown["change_status"] == "completed"

        handle = stack.client.get_workflow_handle(f"remediation-{scan['id']}-{change['check_id']}")
        assert (await handle.describe()).status.name == "COMPLETED"
        tagged = [w.id async for w in stack.client.list_workflows(f"HostId='{host.host_id}'")]
        assert handle.id in tagged
        await save_history(handle, "remediation_e2e_approved")
