"""Starting a RemediationWorkflow from outside a workflow (API one-click fix, the cycle's safety net)."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy

from config import Settings
from workflows.remediation import RemediationWorkflow, remediation_attributes, remediation_workflow_id
from workflows.remediation_types import RemediationInput


def remediation_input(remediation, settings: Settings) -> RemediationInput:
    return RemediationInput(
        remediation_id=str(remediation.id), scan_id=str(remediation.scan_id), check_id=str(remediation.check_id),
        org_id=str(remediation.org_id), host_id=str(remediation.host_id), policy_id=str(remediation.policy_id),
        trigger=remediation.trigger, approval_timeout_seconds=settings.approval_timeout_seconds,
        verify_delay_seconds=settings.verify_delay_seconds,
        agent_timeout_seconds=settings.agent_result_timeout_seconds,
        search_attributes=settings.temporal_search_attributes,
    )


async def start_remediation(client: Client, settings: Settings, params: RemediationInput, summary: str) -> str:
    """A duplicate start (retried request, safety net) returns the run already going (USE_EXISTING)."""
    handle = await client.start_workflow(
        RemediationWorkflow.run, params,
        id=remediation_workflow_id(params.scan_id, params.check_id),
        task_queue=settings.temporal_task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        search_attributes=(remediation_attributes(params.org_id, params.policy_id, params.host_id)
                           if settings.temporal_search_attributes else None),
        static_summary=summary,
    )
    return handle.result_run_id or ""
