"""Turns recorded failures into remediations, per policy gates and the organization's kill switch."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from activities.recording import CheckInfo, ScoredScan
from workflows.types import RemediationStart


async def plan_scan_remediations(
    session: AsyncSession, scored: list[ScoredScan], checks: dict[uuid.UUID, list[CheckInfo]], now: datetime
) -> list[RemediationStart]:
    """Filled in by the remediation work."""
    return []
