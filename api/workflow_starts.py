"""Starting workflows from the API with business-key ids, search attributes and a readable summary."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.common import TypedSearchAttributes, WorkflowIDConflictPolicy

from config import Settings
from models import ComplianceScan
from workflows import search_attributes as sa
from workflows.scan_batch import ScanBatchWorkflow
from workflows.types import ScanBatchInput


async def start_single_scan(client: Client, settings: Settings, scan: ComplianceScan, hostname: str) -> None:
    await client.start_workflow(
        ScanBatchWorkflow.run,
        ScanBatchInput(batch_id=scan.workflow_id, org_id=str(scan.org_id), policy_id=str(scan.policy_id),
                       scan_type=scan.scan_type, host_id=str(scan.host_id),
                       agent_timeout_seconds=settings.agent_result_timeout_seconds),
        id=scan.workflow_id,
        task_queue=settings.temporal_task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        search_attributes=TypedSearchAttributes([
            sa.ORG_ID.value_set(str(scan.org_id)), sa.POLICY_ID.value_set(str(scan.policy_id)),
            sa.SCAN_TYPE.value_set(scan.scan_type), sa.HOST_ID.value_set(str(scan.host_id)),
        ]),
        static_summary=f"{scan.scan_type.replace('_', '-')} scan of {hostname}",
    )
