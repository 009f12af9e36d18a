"""What happens after scans are recorded: remediation planning (and, later, alerts and incidents)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from activities.recording import CheckInfo, ScoredScan
from workflows.types import RemediationStart


async def after_recording(
    session: AsyncSession, scored: list[ScoredScan], checks: dict[uuid.UUID, list[CheckInfo]], now: datetime
) -> list[RemediationStart]:
    return []
