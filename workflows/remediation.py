"""RemediationWorkflow: approval (change record + signal), kill-switch check, dispatch, outcome, verify re-scan."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ActivityError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.remediation import RemediationActivities
    from orchestration import ids
    from orchestration import search_attributes as sa
    from orchestration.types import (
        AutomationInput,
        AutomationResult,
        BeginInput,
        ClosedRemediation,
        CloseInput,
        Decision,
        OutcomeInput,
        PreparedRemediation,
        RemediationInput,
        RemediationRef,
        RemediationResult,
        RemediationStart,
        ScanBatchInput,
    )
    from workflows import retries
    from workflows.automation import AutomationWorkflow, run_script_job

START_CONCURRENCY = 50
DATABASE_TIMEOUT = timedelta(minutes=1)


@workflow.defn(name=ids.REMEDIATION_WORKFLOW)
class RemediationWorkflow:
    def __init__(self) -> None:
        self._nudged = False

    # A signal carries no authority: it only says "look again". The decision, and who made it, is what the API
    # stored in the database, so a forged or mistaken signal changes nothing.
    @workflow.signal(name=ids.APPROVE)
    def approve(self, _: Decision) -> None:
        self._nudged = True

    @workflow.signal(name=ids.REJECT)
    def reject(self, _: Decision) -> None:
        self._nudged = True

    @workflow.run
    async def run(self, params: RemediationInput) -> RemediationResult:
        prepared = await self._activity(RemediationActivities.prepare_remediation, params)
        if prepared.finished:
            return RemediationResult(status=prepared.status, reason=prepared.reason)

        if prepared.needs_approval:
            decision = prepared.decision or await self._await_decision(params, prepared.approval_timeout_seconds)
            if decision is None:
                # Nobody decided in time; a decision stored at the last moment still wins over the expiry.
                closed = await self._close(params, "expired")
                if closed.status != "approved":
                    return RemediationResult(status=closed.status, reason=closed.reason)
            elif decision == "rejected":
                closed = await self._close(params, "rejected")
                return RemediationResult(status=closed.status, reason=closed.reason)

        begun = await self._activity(RemediationActivities.begin_remediation,
                                     BeginInput(params.remediation_id, params.trigger))
        if not begun.proceed:
            return RemediationResult(status="skipped", reason=begun.reason)

        outcome = await self._run_fix(params, prepared)
        await self._activity(RemediationActivities.record_remediation_outcome, outcome)

        await workflow.sleep(timedelta(seconds=prepared.verify_delay_seconds))
        verify_scan_id = await self._verify(params, prepared)
        return RemediationResult(status="completed" if outcome.status == "success" else "failed",
                                 verify_scan_id=verify_scan_id)

    async def _activity(self, method, arg):
        return await workflow.execute_activity_method(method, arg, start_to_close_timeout=DATABASE_TIMEOUT,
                                                      retry_policy=retries.DATABASE)

    async def _await_decision(self, params: RemediationInput, timeout_seconds: int) -> str | None:
        """Wait for a signal, then read the decision the API stored; None when none was stored in time."""
        deadline = workflow.now() + timedelta(seconds=timeout_seconds)
        while (remaining := deadline - workflow.now()) > timedelta(0):
            try:
                await workflow.wait_condition(lambda: self._nudged, timeout=remaining)
            except TimeoutError:
                return None
            self._nudged = False
            stored = await self._activity(RemediationActivities.read_change_decision,
                                          RemediationRef(params.remediation_id))
            if stored.decision is not None:
                return stored.decision
        return None

    async def _close(self, params: RemediationInput, status: str) -> ClosedRemediation:
        reason = "approval timed out" if status == "expired" else None
        return await self._activity(RemediationActivities.close_remediation,
                                    CloseInput(params.remediation_id, status, reason))

    async def _run_fix(self, params: RemediationInput, prepared: PreparedRemediation) -> OutcomeInput:
        if prepared.binding == "workflow":
            result: AutomationResult = await workflow.execute_child_workflow(
                AutomationWorkflow.run,
                AutomationInput(params.remediation_id, prepared.steps, prepared.agent_timeout_seconds),
                id=ids.automation(params.remediation_id),
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=(sa.remediation_attributes(params.org_id, params.policy_id, params.host_id)
                                   if prepared.search_attributes else None),
                static_summary=f"{len(prepared.steps)}-step automation of remediation {params.remediation_id}",
            )
            last = result.steps[-1] if result.steps else None
            return OutcomeInput(params.remediation_id, status=result.status,
                                exit_code=last.exit_code if last else None,
                                output="\n".join(s.output for s in result.steps if s.output), steps=result.steps)
        step = await run_script_job(params.remediation_id, prepared.script_id or "", 0, prepared.agent_timeout_seconds)
        return OutcomeInput(params.remediation_id, status=step.status, exit_code=step.exit_code, output=step.output)

    async def _verify(self, params: RemediationInput, prepared: PreparedRemediation) -> str | None:
        try:
            scan = await workflow.execute_activity_method(
                RemediationActivities.open_verify_scan, RemediationRef(params.remediation_id),
                start_to_close_timeout=DATABASE_TIMEOUT, retry_policy=retries.HOST_BUSY,
            )
        except ActivityError:
            workflow.logger.warning("no verify scan for remediation %s: the host stayed busy", params.remediation_id)
            return None
        if scan.scan_id is None or scan.workflow_id is None:
            return None
        attributes = (sa.scan_attributes(scan.org_id, scan.policy_id, "verify", scan.host_id)
                      if prepared.search_attributes else None)
        try:
            # By name: scan_batch imports this module to start remediations, so no import back.
            await workflow.execute_child_workflow(
                ids.SCAN_BATCH_WORKFLOW,
                ScanBatchInput(batch_id=scan.workflow_id, org_id=scan.org_id, policy_id=scan.policy_id,
                               scan_type="verify", host_id=scan.host_id,
                               agent_timeout_seconds=prepared.agent_timeout_seconds),
                id=scan.workflow_id, search_attributes=attributes,
                static_summary=f"verify scan after remediation {params.remediation_id}",
            )
        except WorkflowAlreadyStartedError:
            pass  # the scan cycle's sweep started it first; it runs on its own
        return scan.scan_id


async def start_remediations(items: list[RemediationStart]) -> int:
    """Start one RemediationWorkflow per planned remediation (called by ScanBatchWorkflow); returns how many started.

    The children outlive the batch (ABANDON). They carry search attributes only when the batch itself does, which
    is how a workflow knows the server has them registered.
    """
    tagged = bool(workflow.info().typed_search_attributes)
    started = 0

    async def start(item: RemediationStart) -> bool:
        try:
            await workflow.start_child_workflow(
                RemediationWorkflow.run,
                RemediationInput(remediation_id=item.remediation_id, scan_id=item.scan_id, check_id=item.check_id,
                                 org_id=item.org_id, host_id=item.host_id, policy_id=item.policy_id,
                                 trigger="automatic", search_attributes=tagged),
                id=ids.remediation(item.scan_id, item.check_id),
                parent_close_policy=ParentClosePolicy.ABANDON,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=(sa.remediation_attributes(item.org_id, item.policy_id, item.host_id)
                                   if tagged else None),
                static_summary=f"Remediate check {item.check_id} found failing by scan {item.scan_id}",
            )
            return True
        except WorkflowAlreadyStartedError:
            return False

    for offset in range(0, len(items), START_CONCURRENCY):
        results = await asyncio.gather(*(start(i) for i in items[offset:offset + START_CONCURRENCY]))
        started += sum(results)
    return started
