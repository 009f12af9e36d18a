"""Agent-wait task tokens are stored many per transaction, and each caller learns its own job's status."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import event, select

from activities.scans import TokenRegistrar
from models import AgentJob
from tests.factories import make_host, make_org


async def test_concurrent_registrations_share_one_update_and_get_their_own_status(db, sessionmaker):
    org = await make_org(db)
    host = await make_host(db, org)
    jobs = [AgentJob(org_id=org.id, host_id=host.id, kind="compliance_check", payload={}, status=status)
            for status in ("pending", "delivered", "completed")]
    db.add_all(jobs)
    await db.commit()

    statements = []
    engine = sessionmaker.kw["bind"].sync_engine

    def listener(_conn, _cursor, statement, *_rest):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", listener)
    try:
        registrar = TokenRegistrar(sessionmaker, window=0.05)
        missing = uuid.uuid4()
        results = await asyncio.gather(*(registrar.register(job.id, f"token-{n}".encode())
                                         for n, job in enumerate(jobs)), registrar.register(missing, b"x"))
    finally:
        event.remove(engine, "before_cursor_execute", listener)

    assert results == ["pending", "delivered", "completed", None]
    assert sum("UPDATE agent_jobs" in s for s in statements) == 1
    tokens = dict((await db.execute(select(AgentJob.id, AgentJob.task_token)
                                    .execution_options(populate_existing=True))).all())
    assert [tokens[job.id] for job in jobs] == [b"token-0", b"token-1", b"token-2"]


async def test_a_failed_flush_fails_every_waiting_registration(sessionmaker):
    registrar = TokenRegistrar(sessionmaker, window=0.01)
    registrar.sessionmaker = lambda: _Broken()
    outcomes = await asyncio.gather(registrar.register(uuid.uuid4(), b"a"), registrar.register(uuid.uuid4(), b"b"),
                                    return_exceptions=True)
    assert [type(o) for o in outcomes] == [ConnectionError, ConnectionError]


class _Broken:
    async def __aenter__(self):
        raise ConnectionError("database unavailable")

    async def __aexit__(self, *exc_info):
        return False
