"""What happens after scans are recorded, in the same transaction: alerts and incidents, then remediation plans."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from activities.evaluation import evaluate_scans
from activities.recording import CheckInfo, ScoredScan
from activities.remediation_planner import plan_scan_remediations
from workflows.types import RemediationStart


async def after_recording(
    session: AsyncSession, scored: list[ScoredScan], checks: dict[uuid.UUID, list[CheckInfo]], now: datetime
) -> list[RemediationStart]:
    if not scored:
        return []
    await evaluate_scans(session, scored, checks, now)
    return await plan_scan_remediations(session, scored, checks, now)
