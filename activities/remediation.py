"""Activities of RemediationWorkflow and AutomationWorkflow: change records, kill switch, agent jobs, verify scans."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from config import Settings
from domain.remediation import DECISIONS, FINISHED
from models import AgentJob, AutomationWorkflow, ComplianceScan, Organization, Remediation, Script
from orchestration import ids
from orchestration.gateway import TemporalGateway
from orchestration.types import (
    AutomationStep,
    BeginInput,
    BeginResult,
    ClosedRemediation,
    CloseInput,
    DispatchInput,
    JobOutcomeInput,
    OutcomeInput,
    PreparedRemediation,
    RemediationInput,
    RemediationRef,
    ResignalResult,
    StepOutcome,
    StoredDecision,
    VerifyScan,
)
from services.remediation import (
    approved_script,
    as_uuid,
    change_of,
    decided_but_waiting,
    ensure_change_record,
    load_context,
    needs_approval,
    never_started,
    script_payload,
    start_of,
    truncate,
)
from services.scans import host_template, notify_jobs, open_single_scan

log = logging.getLogger(__name__)
PAUSED_REASON = "automation_paused"
PAUSED_CHANGE_REASON = "not implemented: automation was paused for the organization after approval"
SIGNAL_GRACE = timedelta(minutes=1)
STRANDED_AFTER = timedelta(minutes=2)
SAFETY_NET_LIMIT = 500


def _missing(remediation_id: str) -> ApplicationError:
    return ApplicationError(f"remediation {remediation_id} does not exist", type="RemediationMissing",
                            non_retryable=True)


class RemediationActivities:
    def __init__(self, sessionmaker: async_sessionmaker, settings: Settings, gateway: TemporalGateway):
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.gateway = gateway

    @activity.defn(name="prepare_remediation")
    async def prepare_remediation(self, params: RemediationInput) -> PreparedRemediation:
        """Resolve timings and the binding; open the change record when approval is needed (idempotent)."""
        async with self.sessionmaker() as session, session.begin():
            ctx = await load_context(session, uuid.UUID(params.remediation_id), lock=True)
            if ctx is None:
                raise _missing(params.remediation_id)
            rem, check = ctx.remediation, ctx.check
            if rem.status in FINISHED or rem.status == "implementing":
                return PreparedRemediation(finished=True, status=rem.status, reason=rem.reason)
            prepared = PreparedRemediation(
                finished=False, status=rem.status, binding=check.remediation_type,
                script_id=str(check.script_id) if check.script_id else None,
                approval_timeout_seconds=params.approval_timeout_seconds or self.settings.approval_timeout_seconds,
                verify_delay_seconds=(params.verify_delay_seconds if params.verify_delay_seconds is not None
                                      else self.settings.verify_delay_seconds),
                agent_timeout_seconds=params.agent_timeout_seconds or self.settings.agent_result_timeout_seconds,
                search_attributes=(params.search_attributes if params.search_attributes is not None
                                   else self.settings.temporal_search_attributes),
            )
            if check.remediation_type not in ("script", "workflow"):
                rem.status, rem.reason = "skipped", f"remediation_type {check.remediation_type}"
                return PreparedRemediation(finished=True, status=rem.status, reason=rem.reason)
            if check.remediation_type == "workflow":
                workflow = await session.get(AutomationWorkflow, check.workflow_id)
                prepared.steps = [AutomationStep(str(s["script_id"]), bool(s.get("continue_on_failure")))
                                  for s in (workflow.steps if workflow else [])]
            if needs_approval(ctx.policy, check):
                change = await ensure_change_record(session, ctx)
                prepared.needs_approval, prepared.change_id = True, str(change.id)
                if change.status in DECISIONS:
                    prepared.decision, prepared.reason = change.status, change.reason
                rem.status = "pending_approval"
            return prepared

    @activity.defn(name="close_remediation")
    async def close_remediation(self, params: CloseInput) -> ClosedRemediation:
        """Rejected (as stored by the API) or expired: nothing runs. An expiry that lost the race to a stored
        approval reports the approval."""
        async with self.sessionmaker() as session, session.begin():
            rem = await session.get(Remediation, uuid.UUID(params.remediation_id), with_for_update=True)
            if rem is None:
                raise _missing(params.remediation_id)
            change = await change_of(session, rem.id, lock=True)
            status, reason = params.status, params.reason
            if change is not None:
                if change.status == "pending_approval" and status == "expired":
                    change.status, change.reason = "expired", reason
                elif change.status == "approved" and status == "expired":
                    return ClosedRemediation("approved", change.reason)
                elif change.status == "rejected":
                    status, reason = "rejected", change.reason
            if rem.status not in FINISHED:
                rem.status, rem.reason = status, reason or ("approval timed out" if status == "expired" else None)
            return ClosedRemediation(rem.status, reason=rem.reason)

    @activity.defn(name="begin_remediation")
    async def begin_remediation(self, params: BeginInput) -> BeginResult:
        """The kill switch is read right before dispatch; manual one-click fixes ignore it."""
        async with self.sessionmaker() as session, session.begin():
            rem = await session.get(Remediation, uuid.UUID(params.remediation_id), with_for_update=True)
            if rem is None:
                raise _missing(params.remediation_id)
            if rem.status == "implementing":
                return BeginResult(proceed=True)
            if rem.status in FINISHED:
                return BeginResult(proceed=False, reason=rem.reason or rem.status)
            change = await change_of(session, rem.id, lock=True)
            paused = await session.scalar(select(Organization.automation_paused).where(Organization.id == rem.org_id))
            if paused and rem.trigger == "automatic":
                rem.status, rem.reason = "skipped", PAUSED_REASON
                if change is not None and change.status in ("pending_approval", "approved"):
                    change.status, change.reason = "failed", PAUSED_CHANGE_REASON
                return BeginResult(proceed=False, reason=PAUSED_REASON)
            if change is not None and change.status != "approved":
                # Only an approval the API stored releases a fix; nothing a signal says can stand in for it.
                return BeginResult(proceed=False, reason=f"the change is {change.status}, not approved")
            rem.status = "implementing"
            if change is not None:
                change.status = "implementing"
            return BeginResult(proceed=True)

    @activity.defn(name="read_change_decision")
    async def read_change_decision(self, params: RemediationRef) -> StoredDecision:
        """What the API stored about the remediation's change record: approved, rejected, or nothing yet."""
        async with self.sessionmaker() as session:
            change = await change_of(session, uuid.UUID(params.remediation_id))
        return StoredDecision(change.status if change is not None and change.status in DECISIONS else None)

    @activity.defn(name="dispatch_remediation_job")
    async def dispatch_remediation_job(self, params: DispatchInput) -> None:
        """One `remediation` agent job per workflow-chosen id, so a retry cannot queue the script twice."""
        async with self.sessionmaker() as session, session.begin():
            rem = await session.get(Remediation, uuid.UUID(params.remediation_id))
            if rem is None:
                raise _missing(params.remediation_id)
            change = await change_of(session, rem.id)
            approved = approved_script(change, params.script_id) if change is not None else None
            if approved is not None:
                # What was approved runs, even if the script was edited (or deleted) since.
                script = script_payload(approved["shell"], approved["body"], approved["timeout_seconds"])
            else:
                current = await session.get(Script, as_uuid(params.script_id)) if as_uuid(params.script_id) else None
                if current is None or current.org_id not in (None, rem.org_id) or change is not None:
                    raise ApplicationError(f"script {params.script_id} is not available", type="ScriptMissing",
                                           non_retryable=True)
                script = script_payload(current.shell, current.body, current.timeout_seconds)
            payload = {"remediation_id": str(rem.id), "rule_id": rem.rule_id, "check_id": str(rem.check_id),
                       "step": params.step, "script": script}
            inserted = await session.execute(insert(AgentJob).values(
                id=uuid.UUID(params.job_id), org_id=rem.org_id, host_id=rem.host_id, kind="remediation",
                payload=payload, status="pending", remediation_id=rem.id, late=False, completion_pending=False,
            ).on_conflict_do_nothing(index_elements=["id"]))
            if inserted.rowcount:
                await notify_jobs(session, {rem.host_id})

    @activity.defn(name="remediation_job_outcome")
    async def remediation_job_outcome(self, params: JobOutcomeInput) -> StepOutcome:
        """The agent's answer (output cut to 4 KB), or a failure when it never came (the job is then closed)."""
        async with self.sessionmaker() as session, session.begin():
            if not params.answered:
                await session.execute(update(AgentJob).where(
                    AgentJob.id == uuid.UUID(params.job_id), AgentJob.status.in_(("pending", "delivered")),
                ).values(status="timed_out"))
            job = await session.get(AgentJob, uuid.UUID(params.job_id))
        if job is None or job.status != "completed" or not job.result:
            return StepOutcome(status="failed", output="the agent did not answer in time", script_id=params.script_id)
        result = job.result
        return StepOutcome(status="success" if result.get("status") == "success" else "failed",
                           exit_code=result.get("exit_code"), output=truncate(result.get("output")),
                           script_id=params.script_id)

    @activity.defn(name="record_remediation_outcome")
    async def record_remediation_outcome(self, params: OutcomeInput) -> None:
        async with self.sessionmaker() as session, session.begin():
            rem = await session.get(Remediation, uuid.UUID(params.remediation_id), with_for_update=True)
            if rem is None:
                raise _missing(params.remediation_id)
            change = await change_of(session, rem.id, lock=True)
            succeeded = params.status == "success"
            rem.status = "completed" if succeeded else "failed"
            rem.outcome = {"status": params.status, "exit_code": params.exit_code, "output": truncate(params.output),
                           "steps": [{"script_id": s.script_id, "status": s.status, "exit_code": s.exit_code,
                                      "output": truncate(s.output)} for s in params.steps] or None,
                           "finished_at": datetime.now(UTC).isoformat()}
            if change is not None and change.status == "implementing":
                change.status = rem.status

    @activity.defn(name="open_verify_scan")
    async def open_verify_scan(self, params: RemediationRef) -> VerifyScan:
        """Queue the one-host verify scan (once) and link it; waits (retries) while another scan runs on the host."""
        async with self.sessionmaker() as session, session.begin():
            ctx = await load_context(session, uuid.UUID(params.remediation_id), lock=True)
            if ctx is None:
                raise _missing(params.remediation_id)
            rem = ctx.remediation
            if rem.verify_scan_id is not None:
                scan = await session.get(ComplianceScan, rem.verify_scan_id)
            else:
                template = await host_template(session, ctx.policy, rem.host_id)
                if template is None:
                    return VerifyScan(scan_id=None)
                scan, created = await open_single_scan(session, ctx.policy, rem.host_id, template, "verify",
                                                       remediation_id=rem.id)
                if not created:
                    raise ApplicationError("another scan is running on the host", type="HostBusy")
                rem.verify_scan_id = scan.id
            return VerifyScan(scan_id=str(scan.id), workflow_id=scan.workflow_id, org_id=str(scan.org_id),
                              policy_id=str(scan.policy_id), host_id=str(scan.host_id))

    @activity.defn(name="resignal_decided_changes")
    async def resignal_decided_changes(self) -> ResignalResult:
        """Safety net of the scan cycle: decisions stored by the API whose signal never reached the waiting
        workflow are signalled again, and remediations whose workflow never started are started."""
        now = datetime.now(UTC)
        async with self.sessionmaker() as session:
            decided = await decided_but_waiting(session, now - SIGNAL_GRACE, SAFETY_NET_LIMIT)
            stranded = await never_started(session, now - STRANDED_AFTER, SAFETY_NET_LIMIT)
        resignaled = 0
        for change, rem in decided:
            workflow_id = rem.workflow_id or ids.remediation(rem.scan_id, rem.check_id)
            if await self.gateway.signal_change_decision(workflow_id, change.status == "approved"):
                resignaled += 1
            else:
                # Never started, or ended without closing the remediation: a new run reads the decision from the DB.
                log.warning("change %s is %s but workflow %s is not running; starting it", change.id, change.status,
                            workflow_id)
                stranded.append(rem)
        for rem in stranded:
            await self.gateway.start_remediation(start_of(rem), rem.trigger,
                                                 f"Remediate {rem.rule_id} (restarted by the scan cycle)")
        return ResignalResult(resignaled=resignaled, restarted=len(stranded))

    def all(self) -> list:
        return [self.prepare_remediation, self.close_remediation, self.begin_remediation,
                self.dispatch_remediation_job, self.remediation_job_outcome, self.record_remediation_outcome,
                self.open_verify_scan, self.read_change_decision, self.resignal_decided_changes]
