"""The scheduled path on the time-skipping server: the cycle plans due hosts into batches and scans them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from agent.fleet import Fleet, Outcomes
from models import ComplianceScan, Host, HostPolicyStatus
from orchestration.types import CycleInput, ScanBatchResult
from tests.e2e.test_scan_end_to_end import save_history, setup_org
from tests.stack import running_stack
from workflows.scan_cycle import ScanCycleWorkflow


async def test_cycle_scans_due_hosts_in_batches_and_skips_the_rest(skipping_env, db_url, app_factory, db):
    async with running_stack(skipping_env, db_url, app_factory, max_scans_per_batch_workflow=2,
                             temporal_search_attributes=False) as stack:
        org, headers, token, policy = await setup_org(stack, db)
        fleet = Fleet(stack.api, "http://test", Outcomes(fail_rate=0.3))
        hosts = await fleet.enroll(5, token, prefix="cyc")
        due = hosts[:3]
        recently_scanned, offline = hosts[3], hosts[4]

        policy_id = uuid.UUID(policy["id"])
        previous = ComplianceScan(org_id=org.id, host_id=uuid.UUID(recently_scanned.host_id), policy_id=policy_id,
                                  template_id=uuid.UUID(policy["template_id"]), template_version=1,
                                  scan_type="scheduled", status="completed", completed_at=datetime.now(UTC))
        db.add(previous)
        await db.flush()
        db.add(HostPolicyStatus(host_id=previous.host_id, policy_id=policy_id, org_id=org.id, scan_id=previous.id,
                                template_id=previous.template_id, score=90.0, last_completed_at=datetime.now(UTC)))
        stale = await db.get(Host, uuid.UUID(offline.host_id))
        stale.last_seen = datetime.now(UTC) - timedelta(days=3)
        await db.commit()

        fleet.start(wait=1)
        try:
            result = await stack.client.execute_workflow(
                ScanCycleWorkflow.run, CycleInput(tick="t1", agent_timeout_seconds=60), id="scan-cycle-t1",
                task_queue=stack.settings.temporal_task_queue,
            )
            assert result.batches_started == 2 and result.scans_planned == 3
            batch_ids = [f"scan-batch-{policy_id}-t1-{n}" for n in range(2)]
            outcomes = [await stack.client.get_workflow_handle(w, result_type=ScanBatchResult).result()
                        for w in batch_ids]
        finally:
            await fleet.stop()

        assert sorted(o.scans for o in outcomes) == [1, 2]
        assert sum(o.completed for o in outcomes) == 3
        scans = (await db.scalars(select(ComplianceScan).where(ComplianceScan.scan_type == "scheduled",
                                                               ComplianceScan.id != previous.id))).all()
        assert sorted(str(s.host_id) for s in scans) == sorted(h.host_id for h in due)
        assert all(s.status == "completed" and s.score is not None for s in scans)
        await save_history(stack.client.get_workflow_handle("scan-cycle-t1"), "scan_cycle")
        await save_history(stack.client.get_workflow_handle(batch_ids[0]), "scan_batch_scheduled")

        # A second tick right away finds nothing due: every host was just scanned.
        again = await stack.client.execute_workflow(
            ScanCycleWorkflow.run, CycleInput(tick="t2"), id="scan-cycle-t2",
            task_queue=stack.settings.temporal_task_queue,
        )
        assert again.scans_planned == 0 and again.batches_started == 0
