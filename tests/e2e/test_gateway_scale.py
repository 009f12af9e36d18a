"""A steady agent needs one request per scan: its result post carries its next poll, through the real stack."""

from __future__ import annotations

from agent.fleet import Fleet, Outcomes
from tests.e2e.test_scan_end_to_end import setup_org
from tests.stack import eventually, running_stack


async def test_the_next_scan_reaches_the_agent_through_its_result_post(dev_env, db_url, app_factory, db):
    async with running_stack(dev_env, db_url, app_factory) as stack:
        org, headers, token, policy = await setup_org(stack, db)
        fleet = Fleet(stack.api, "http://test", Outcomes(fail_rate=0.2))
        (host,) = await fleet.enroll(1, token, prefix="steady")
        fleet.start(wait=20)

        async def scan_once() -> dict:
            requested = await stack.api.post(f"/api/v1/compliance/policies/{policy['id']}/scan",
                                             json={"host_id": host.host_id}, headers=headers)
            assert requested.status_code == 202, requested.text

            async def completed():
                body = (await stack.api.get(f"/api/v1/compliance/scans/{requested.json()['id']}",
                                            headers=headers)).json()
                return body if body["status"] == "completed" else None

            return await eventually(completed)

        try:
            await scan_once()
            before = host.api.requests.copy()
            second = await scan_once()
            after = host.api.requests.copy()
        finally:
            await fleet.stop()
        assert second["total"] > 0
        # The second job came back on the first result post, which was still waiting: no poll in between.
        assert after["poll"] == before["poll"] and after["result"] == before["result"] + 1
