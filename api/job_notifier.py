"""Wakes long-polling agents when new jobs are written, through PostgreSQL LISTEN/NOTIFY."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import defaultdict

import psycopg

from services.scans import JOBS_CHANNEL

log = logging.getLogger(__name__)


class JobNotifier:
    """One listening connection per API process; each waiting agent holds an event, not a database connection."""

    def __init__(self, conninfo: str):
        self._conninfo = conninfo
        self._waiters: dict[uuid.UUID, set[asyncio.Event]] = defaultdict(set)
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._listen())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def wait(self, host_id: uuid.UUID, timeout: float) -> None:
        """Return when jobs may have arrived for this host, or after `timeout` seconds."""
        event = asyncio.Event()
        self._waiters[host_id].add(event)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), timeout)
        finally:
            waiters = self._waiters.get(host_id)
            if waiters is not None:
                waiters.discard(event)
                if not waiters:
                    del self._waiters[host_id]

    def wake_all(self) -> None:
        for events in list(self._waiters.values()):
            for event in events:
                event.set()

    async def _listen(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {JOBS_CHANNEL}")
                    self.wake_all()  # anything written while we were not listening
                    async for _ in conn.notifies():
                        self.wake_all()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection lost: waiters fall back to their timeout, then retry
                log.warning("job notifier connection lost: %s", exc)
                await asyncio.sleep(1)
