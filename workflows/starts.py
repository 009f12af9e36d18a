"""Starting workflows from outside a workflow (API, activities): business-key ids, search attributes, a summary."""

from __future__ import annotations

from dataclasses import dataclass

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy

from config import Settings
from workflows import search_attributes as sa
from workflows.scan_batch import ScanBatchWorkflow
from workflows.types import ScanBatchInput


@dataclass
class SingleScan:
    workflow_id: str
    org_id: str
    policy_id: str
    host_id: str
    scan_type: str
    hostname: str

    @classmethod
    def of(cls, scan, hostname: str) -> SingleScan:
        return cls(scan.workflow_id, str(scan.org_id), str(scan.policy_id), str(scan.host_id), scan.scan_type, hostname)


async def start_single_scan(client: Client, settings: Settings, scan: SingleScan) -> None:
    await client.start_workflow(
        ScanBatchWorkflow.run,
        ScanBatchInput(batch_id=scan.workflow_id, org_id=scan.org_id, policy_id=scan.policy_id,
                       scan_type=scan.scan_type, host_id=scan.host_id,
                       agent_timeout_seconds=settings.agent_result_timeout_seconds),
        id=scan.workflow_id,
        task_queue=settings.temporal_task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        search_attributes=(sa.scan_attributes(scan.org_id, scan.policy_id, scan.scan_type, scan.host_id)
                           if settings.temporal_search_attributes else None),
        static_summary=f"{scan.scan_type.replace('_', '-')} scan of {scan.hostname}",
    )
