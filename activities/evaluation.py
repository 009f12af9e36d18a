"""Post-scan evaluation: notifications, regression alerts and incidents (set-based over a micro-batch)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from activities.recording import CheckInfo, ScoredScan


async def evaluate_scans(
    session: AsyncSession, scored: list[ScoredScan], checks: dict[uuid.UUID, list[CheckInfo]], now: datetime
) -> None:
    """Filled in by the monitoring work (notifications, regression alerts, incidents)."""
