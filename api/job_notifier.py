"""The agent gateway's one PostgreSQL listener per API process: it wakes the long polls of the hosts that got a
job, tells a poll whether its host can have anything new since it last looked (so an idle poll costs no query),
makes the process forget cached agent credentials when an agent is revoked or approved, re-checks the cached ones
in one query per sweep, and writes when agents were last seen for all of them at once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.scans import JOBS_CHANNEL

log = logging.getLogger(__name__)
CREDENTIALS_CHANNEL = "agent_credentials"
REDELIVER_AFTER = timedelta(minutes=2)
# Jobs no notification named (a delivered job whose agent went silent becomes claimable again; a writer that does
# not announce its jobs) are found by one query per process this often, for every waiting host at once.
SWEEP_SECONDS = 30.0
# A host whose poll has not looked in the database for this long looks again, whatever the listener says.
LOOK_AT_LEAST_EVERY = 600.0
# Agent logins (credentials not in the cache) that look in the database at once; the others queue without a
# connection, so a fleet reconnecting after a restart leaves the pool to result posts and people. Polls claim
# their jobs together instead (api.job_claims), in at most two statements at once.
CONCURRENT_LOOKS = 8
# Result posts and heartbeats writing at once, likewise: with the looks, at most 16 of the pool's connections go to
# agents, however many post together, and the others wait in memory for their turn instead of timing out on the
# pool (which would answer 503).
CONCURRENT_STORES = 8
_STILL_VALID = """
    SELECT a.token_hash FROM agents a
    WHERE a.token_hash = ANY(%(hashes)s) AND a.revoked_at IS NULL AND a.approved_at IS NOT NULL
"""
_SEEN_HOSTS = """
    UPDATE hosts h SET last_seen = s.at FROM unnest(%(ids)s::uuid[], %(ats)s::timestamptz[]) AS s(id, at)
    WHERE h.id = s.id AND (h.last_seen IS NULL OR h.last_seen < s.at)
"""
_SEEN_AGENTS = """
    UPDATE agents a SET last_seen = s.at FROM unnest(%(ids)s::uuid[], %(ats)s::timestamptz[]) AS s(id, at)
    WHERE a.id = s.id AND (a.last_seen IS NULL OR a.last_seen < s.at)
"""
_CLAIMABLE_FOR = """
    SELECT DISTINCT host_id FROM agent_jobs
    WHERE host_id = ANY(%(hosts)s) AND status IN ('pending', 'delivered')
      AND (status = 'pending' OR delivered_at < now() - %(redeliver)s)
"""


@dataclass(frozen=True)
class AgentIdentity:
    agent_id: uuid.UUID
    host_id: uuid.UUID
    org_id: uuid.UUID


class AgentCredentials:
    """Token hash → identity of approved, unrevoked agents, so a poll or a result post needs no query to
    authenticate. A revocation or an approval is announced on CREDENTIALS_CHANNEL and drops the host's entries at
    once; the listener also re-checks every entry in one query per sweep and renews those still valid (a change
    made directly in the database counts within a sweep). The time limit covers a listener that is not
    connected: nothing is renewed then, and entries run out."""

    def __init__(self, ttl_seconds: float):
        self.ttl = ttl_seconds
        self._entries: dict[str, tuple[AgentIdentity, float]] = {}

    def get(self, token_hash: str) -> AgentIdentity | None:
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        if entry[1] < time.monotonic():
            del self._entries[token_hash]
            return None
        return entry[0]

    def put(self, token_hash: str, identity: AgentIdentity) -> None:
        if self.ttl > 0:
            self._entries[token_hash] = (identity, time.monotonic() + self.ttl)

    def forget_hosts(self, host_ids: set[uuid.UUID]) -> None:
        for token_hash, (identity, _) in list(self._entries.items()):
            if identity.host_id in host_ids:
                del self._entries[token_hash]

    def clear(self) -> None:
        self._entries.clear()

    def hashes(self) -> list[str]:
        return list(self._entries)

    def renew(self, checked: list[str], valid: set[str]) -> None:
        """`checked` were looked up in the database; the `valid` ones get a new time limit, the others go."""
        until = time.monotonic() + self.ttl
        for token_hash in checked:
            entry = self._entries.get(token_hash)
            if entry is None:
                continue  # dropped by an announcement meanwhile
            if token_hash in valid:
                self._entries[token_hash] = (entry[0], until)
            else:
                del self._entries[token_hash]


class Liveness:
    """When each agent (and its host) was last heard from, kept in memory and written for all of them at once:
    a poll that waits and finds nothing then costs no write, and an agent needs no heartbeat to stay online."""

    def __init__(self) -> None:
        self._agents: dict[uuid.UUID, datetime] = {}
        self._hosts: dict[uuid.UUID, datetime] = {}

    def seen(self, identity: AgentIdentity) -> None:
        now = datetime.now(UTC)
        self._agents[identity.agent_id] = now
        self._hosts[identity.host_id] = now

    def take(self) -> tuple[dict[uuid.UUID, datetime], dict[uuid.UUID, datetime]]:
        agents, hosts = self._agents, self._hosts
        self._agents, self._hosts = {}, {}
        return agents, hosts

    async def write(self, conn: psycopg.AsyncConnection) -> None:
        agents, hosts = self.take()
        try:
            for statement, seen in ((_SEEN_HOSTS, hosts), (_SEEN_AGENTS, agents)):
                if seen:
                    ids = sorted(seen)  # one lock order for every process's writes
                    await conn.execute(statement, {"ids": ids, "ats": [seen[key] for key in ids]})
        except Exception:
            # Not written: keep them for the next round (newer sightings win).
            for record, seen in ((self._agents, agents), (self._hosts, hosts)):
                for key, at in seen.items():
                    record.setdefault(key, at)
            raise


async def announce_credentials_changed(session: AsyncSession, host_id: uuid.UUID) -> None:
    """Tell every API process, at commit, that the agents of this host changed (revoked or approved)."""
    await session.execute(text("SELECT pg_notify(:channel, :host)"),
                          {"channel": CREDENTIALS_CHANNEL, "host": str(host_id)})


def _host_ids(payload: str) -> set[uuid.UUID] | None:
    """The hosts a notification names; None for an empty or unreadable one, which may concern any host."""
    try:
        hosts = {uuid.UUID(part) for part in payload.split(",") if part}
    except ValueError:
        return None
    return hosts or None


class JobNotifier:
    """Each waiting poll holds an event, not a database connection. A notification on JOBS_CHANNEL names the
    hosts that got jobs and wakes only their polls; one that names none (and every reconnection, since
    notifications sent meanwhile are lost) wakes every poll once. Because every announcement reaches this
    listener, a host that looked and found nothing need not look again until one names it."""

    def __init__(self, conninfo: str, credentials_ttl_seconds: float = 5.0):
        self._conninfo = conninfo
        self._waiters: dict[uuid.UUID, set[asyncio.Event]] = {}
        self._task: asyncio.Task | None = None
        self.credentials = AgentCredentials(credentials_ttl_seconds)
        self.liveness = Liveness()
        self.listening = asyncio.Event()
        self._listening_since: float | None = None
        self._everyone_at = 0.0
        self._announced: dict[uuid.UUID, float] = {}
        self._looked: dict[uuid.UUID, float] = {}
        self.looks = asyncio.Semaphore(CONCURRENT_LOOKS)
        self.stores = asyncio.Semaphore(CONCURRENT_STORES)

    def start(self) -> None:
        self._task = asyncio.create_task(self._listen())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @property
    def waiting(self) -> int:
        return sum(len(events) for events in self._waiters.values())

    @contextlib.contextmanager
    def news_for(self, host_id: uuid.UUID) -> Iterator[asyncio.Event]:
        """An event set when this host may have got jobs. Subscribe before looking, so that a job announced
        between the look and the wait is not missed."""
        event = asyncio.Event()
        self._waiters.setdefault(host_id, set()).add(event)
        try:
            yield event
        finally:
            waiters = self._waiters[host_id]
            waiters.discard(event)
            if not waiters:
                del self._waiters[host_id]

    def found_nothing(self, host_id: uuid.UUID, looked_at: float) -> None:
        """A look in the database that started at `looked_at` (time.monotonic()) found no job for the host."""
        self._looked[host_id] = looked_at

    def must_look(self, host_id: uuid.UUID) -> bool:
        """False only when nothing can be new for the host since its last empty look: the listener was connected
        all along and no announcement named it (or everyone) after the look began."""
        looked_at = self._looked.get(host_id)
        return (looked_at is None or self._listening_since is None or self._listening_since > looked_at
                or self._everyone_at > looked_at or self._announced.get(host_id, 0.0) > looked_at
                or time.monotonic() - looked_at > LOOK_AT_LEAST_EVERY)

    def wake(self, host_ids: set[uuid.UUID]) -> None:
        now = time.monotonic()
        for host_id in host_ids:
            self._announced[host_id] = now
            for event in self._waiters.get(host_id, ()):
                event.set()

    def wake_all(self) -> None:
        self._everyone_at = time.monotonic()
        for events in self._waiters.values():
            for event in events:
                event.set()

    def _forget_old_looks(self) -> None:
        # Dropping both records with one cutoff keeps must_look() right: a look older than the cutoff is gone
        # (the host looks again), and any announcement that postdates a kept look is newer still, so kept.
        cutoff = time.monotonic() - LOOK_AT_LEAST_EVERY
        for records in (self._looked, self._announced):
            for host_id in [h for h, at in records.items() if at < cutoff]:
                del records[host_id]

    async def _sweep(self, conn: psycopg.AsyncConnection) -> None:
        """Write who was seen, renew the cached credentials still valid, and wake the waiting hosts that have
        claimable jobs no notification named."""
        self._forget_old_looks()
        await self.liveness.write(conn)
        if checked := self.credentials.hashes():
            cursor = await conn.execute(_STILL_VALID, {"hashes": checked})
            self.credentials.renew(checked, {token_hash for (token_hash,) in await cursor.fetchall()})
        if not self._waiters:
            return
        cursor = await conn.execute(_CLAIMABLE_FOR, {"hosts": list(self._waiters), "redeliver": REDELIVER_AFTER})
        self.wake({host_id for (host_id,) in await cursor.fetchall()})

    def _dispatch(self, channel: str, payload: str) -> None:
        hosts = _host_ids(payload)
        if channel == CREDENTIALS_CHANNEL:
            self.credentials.clear() if hosts is None else self.credentials.forget_hosts(hosts)
        elif hosts is None:
            self.wake_all()
        else:
            self.wake(hosts)

    async def _listen(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {JOBS_CHANNEL}")
                    await conn.execute(f"LISTEN {CREDENTIALS_CHANNEL}")
                    # Whatever was announced while nobody listened is lost: every poll looks once, and credentials
                    # are read afresh.
                    self._listening_since = time.monotonic()
                    self.credentials.clear()
                    self.wake_all()
                    self.listening.set()
                    while True:
                        # Notifications that arrive during the sweep wait in psycopg's backlog for the next round.
                        async with contextlib.aclosing(conn.notifies(timeout=SWEEP_SECONDS)) as notifies:
                            async for notify in notifies:
                                self._dispatch(notify.channel, notify.payload)
                        await self._sweep(conn)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection lost: polls end at their deadline meanwhile, then retry
                log.warning("job notifier connection lost: %s", exc)
            finally:
                self._listening_since = None
                self.listening.clear()
            await asyncio.sleep(1)
