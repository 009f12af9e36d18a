"""Claims of agent jobs, for many hosts in one statement.

When a scan batch opens, the listener wakes the polls of hundreds or thousands of hosts at once, and every one of
them must claim its jobs. Claimed one host at a time, a woken fleet of 5,000 queued for minutes behind one small
statement each; here the polls waiting for their turn are taken together, up to BATCH_HOSTS at a time, and one
statement claims the jobs of all of them. A lone poll is a batch of one and pays nothing for it."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from api.job_notifier import REDELIVER_AFTER

CLAIM_LIMIT = 20  # jobs handed to an agent at once
BATCH_HOSTS = 250  # hosts claimed for in one statement
CONCURRENT_BATCHES = 2  # statements claiming at once, each on its own pooled connection

_CLAIMABLE = "(status = 'pending' OR (status = 'delivered' AND delivered_at < :stale))"
# `wanted`: each host's first CLAIM_LIMIT claimable jobs as this statement's snapshot sees them. `picked`: those
# still claimable now and not locked by another transaction (the worker registering an activity's task token holds
# a job's row for a moment); PostgreSQL re-checks the condition on a row that changed since the snapshot, so a job
# another API process claimed meanwhile is not claimed twice. The answer has a row per claimed job, and a row per
# host with how many it wanted: a host that wanted jobs and got none met them locked, and looks again shortly.
_CLAIM = text(f"""
    WITH wanted AS MATERIALIZED (
        SELECT id, host_id FROM (
            SELECT id, host_id, row_number() OVER (PARTITION BY host_id ORDER BY created_at, id) AS n
            FROM agent_jobs WHERE host_id = ANY(:hosts) AND {_CLAIMABLE}
        ) ranked
        WHERE n <= {CLAIM_LIMIT}
    ), picked AS (
        SELECT id FROM agent_jobs
        WHERE id IN (SELECT id FROM wanted) AND {_CLAIMABLE}
        ORDER BY id
        FOR UPDATE SKIP LOCKED
    ), claimed AS (
        UPDATE agent_jobs j SET status = 'delivered', delivered_at = :now, updated_at = :now
        FROM picked WHERE j.id = picked.id
        RETURNING j.host_id, j.id, j.kind, j.payload, j.created_at
    )
    SELECT host_id, id, kind, payload, created_at, NULL::int AS wanted FROM claimed
    UNION ALL
    SELECT host_id, NULL, NULL, NULL, NULL, count(*)::int FROM wanted GROUP BY host_id
""").bindparams(bindparam("hosts", type_=ARRAY(UUID(as_uuid=True))))


@dataclass
class Claimed:
    """What one host's claim came to: `jobs` (encoded, oldest first), and whether the claim took everything that
    was claimable when it began (`complete`: the host need not look again until a job is announced) or met jobs
    that another transaction held (`busy`: look again in a moment)."""

    jobs: list[bytes] = field(default_factory=list)
    wanted: int = 0

    @property
    def busy(self) -> bool:
        return self.wanted > 0 and not self.jobs

    @property
    def complete(self) -> bool:
        return len(self.jobs) == self.wanted < CLAIM_LIMIT


@dataclass
class _Waiting:
    host_id: uuid.UUID
    not_after: float  # time.monotonic() past which the poll's agent may no longer read the answer
    answer: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class JobClaims:
    """Polls ask `claim(host, not_after)`; the claims of polls waiting at the same moment share one statement.
    At most CONCURRENT_BATCHES statements run at once, so a woken fleet takes two pooled connections, not one per
    poll, and the queue of waiting polls costs memory only."""

    def __init__(self, engine: AsyncEngine, encode: Callable[[AsyncConnection, object], Awaitable[bytes]]):
        self._engine = engine
        self._encode = encode  # (connection, claimed row) -> the job as the agent receives it
        self._queue: list[_Waiting] = []
        self._running = 0
        self._tasks: set[asyncio.Task] = set()

    async def claim(self, host_id: uuid.UUID, not_after: float) -> Claimed | None:
        """This host's claim, made with others waiting at the same moment; None when its turn came after
        `not_after` (time.monotonic()): the jobs are then left claimable for the agent's next poll rather than
        handed to a request its agent may have given up on."""
        waiting = _Waiting(host_id, not_after)
        self._queue.append(waiting)
        if self._running < CONCURRENT_BATCHES:
            self._running += 1
            task = asyncio.create_task(self._run())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await waiting.answer

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for waiting in self._queue:
            waiting.answer.cancel()
        self._queue.clear()

    def _next_batch(self) -> list[_Waiting]:
        """The oldest waiting polls, one per host (a second poll of a host waits for the next batch); polls whose
        agent gave up, or whose turn came too late, are answered here."""
        now = time.monotonic()
        batch: dict[uuid.UUID, _Waiting] = {}
        left: list[_Waiting] = []
        for waiting in self._queue:
            if waiting.answer.done():
                continue  # the request was cancelled
            if len(batch) >= BATCH_HOSTS or waiting.host_id in batch:
                left.append(waiting)
            elif now > waiting.not_after:
                waiting.answer.set_result(None)
            else:
                batch[waiting.host_id] = waiting
        self._queue = left
        return list(batch.values())

    async def _run(self) -> None:
        try:
            while batch := self._next_batch():
                try:
                    claimed = await self._claim([w.host_id for w in batch])
                except asyncio.CancelledError:
                    for waiting in batch:
                        waiting.answer.cancel()
                    raise
                except Exception as exc:  # each poll answers as if it had failed alone (503 for a busy pool)
                    for waiting in batch:
                        if not waiting.answer.done():
                            waiting.answer.set_exception(exc)
                    continue
                for waiting in batch:
                    if not waiting.answer.done():
                        waiting.answer.set_result(claimed.get(waiting.host_id, Claimed()))
        finally:
            self._running -= 1

    async def _claim(self, host_ids: list[uuid.UUID]) -> dict[uuid.UUID, Claimed]:
        now = datetime.now(UTC)
        params = {"hosts": host_ids, "now": now, "stale": now - REDELIVER_AFTER}
        claimed: dict[uuid.UUID, Claimed] = {}
        async with self._engine.begin() as connection:
            rows = (await connection.execute(_CLAIM, params)).all()
            jobs = sorted((row for row in rows if row.id is not None), key=lambda row: (row.created_at, row.id))
            for row in rows:
                if row.id is None:
                    claimed.setdefault(row.host_id, Claimed()).wanted = row.wanted
            for job in jobs:
                claimed[job.host_id].jobs.append(await self._encode(connection, job))
        return claimed
