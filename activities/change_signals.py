"""Safety net of the scan cycle: decisions stored by the API whose signal never reached the waiting workflow,
and remediations whose workflow never started, are handed to Temporal again."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from config import Settings
from models import ChangeRecord, Remediation
from workflows.remediation import RemediationWorkflow, remediation_workflow_id
from workflows.remediation_starts import remediation_input, start_remediation
from workflows.remediation_types import Decision, ResignalResult

log = logging.getLogger(__name__)
SIGNAL_GRACE = timedelta(minutes=1)
STRANDED_AFTER = timedelta(minutes=2)
LIMIT = 500


async def _load_remediation(sessionmaker: async_sessionmaker, remediation_id) -> Remediation:
    async with sessionmaker() as session:
        return await session.get(Remediation, remediation_id)


async def resignal_decided_changes(sessionmaker: async_sessionmaker, settings: Settings, client: Client,
                                   now: datetime | None = None) -> ResignalResult:
    now = now or datetime.now(UTC)
    async with sessionmaker() as session:
        decided = (await session.execute(
            select(ChangeRecord, Remediation.workflow_id, Remediation.scan_id, Remediation.check_id)
            .join(Remediation, Remediation.id == ChangeRecord.remediation_id)
            .where(ChangeRecord.status.in_(("approved", "rejected")), Remediation.status == "pending_approval",
                   ChangeRecord.decided_at < now - SIGNAL_GRACE)
            .order_by(ChangeRecord.decided_at).limit(LIMIT)
        )).all()
        stranded = list(await session.scalars(
            select(Remediation).where(Remediation.status == "planned", Remediation.created_at < now - STRANDED_AFTER)
            .order_by(Remediation.created_at).limit(LIMIT)
        ))
    resignaled = 0
    for change, workflow_id, scan_id, check_id in decided:
        signal = RemediationWorkflow.approve if change.status == "approved" else RemediationWorkflow.reject
        handle = client.get_workflow_handle(workflow_id or remediation_workflow_id(str(scan_id), str(check_id)))
        try:
            await handle.signal(signal, Decision(decided_by=str(change.decided_by) if change.decided_by else None,
                                                 reason=change.reason))
            resignaled += 1
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            # Never started, or ended without closing the remediation: a new run reads the decision from the DB.
            log.warning("change %s is %s but workflow %s is not running; starting it", change.id, change.status,
                        handle.id)
            stranded.append(await _load_remediation(sessionmaker, change.remediation_id))
    for remediation in stranded:
        await start_remediation(client, settings, remediation_input(remediation, settings),
                                f"Remediate {remediation.rule_id} (restarted by the scan cycle)")
    return ResignalResult(resignaled=resignaled, restarted=len(stranded))
