"""The audit log is evidence: append-only in the database, hash-chained per organization, verifiable offline."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from api.audit_verify import verify
from models.db import libpq_url
from tests.conftest import ROOT
from tests.factories import login, make_user


async def _append(conninfo: str, org_id: uuid.UUID | None, count: int) -> None:
    """Append `count` rows to a chain through the chaining trigger, in one statement."""
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
        await conn.execute("""
            INSERT INTO audit_log (org_id, actor_type, actor_name, action, target_type, target_id, before, after)
            SELECT %s, 'user', 'ädmin', 'policy.update', 'policy', g::text, jsonb_build_object('n', g - 1),
                   jsonb_build_object('n', g, 'note', 'a|b:c')
            FROM generate_series(1, %s) g
        """, (org_id, count))


def _tamper(conninfo: str, *statements: str) -> None:
    """What a superuser could do: switch the append-only trigger off and rewrite history."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
        for statement in statements:
            conn.execute(statement)


async def _chain_ids(db, org_id: uuid.UUID) -> list[int]:
    return list(await db.scalars(text("SELECT id FROM audit_log WHERE org_id = :org ORDER BY id"), {"org": org_id}))


async def test_database_refuses_update_delete_and_truncate_of_audit_rows(db_url, db):
    org_id = uuid.uuid4()
    await _append(libpq_url(db_url), org_id, 2)
    for statement in ("UPDATE audit_log SET action = 'forged'", "DELETE FROM audit_log", "TRUNCATE audit_log"):
        with pytest.raises(DBAPIError, match="append-only"):
            await db.execute(text(statement))
        await db.rollback()
    assert len(await _chain_ids(db, org_id)) == 2


async def test_chain_verifies_after_api_mutations(client, db, db_url):
    admin = await make_user(db, is_admin=True)
    newcomer = await make_user(db)
    await db.commit()
    headers = await login(client, admin.username)
    org_ids = []
    for name in ("Acme", "Globex"):
        created = await client.post("/api/v1/orgs", json={"name": name}, headers=headers)
        assert created.status_code == 201
        org_ids.append(created.json()["id"])
    for org_id in org_ids:
        assert (await client.post(f"/api/v1/orgs/{org_id}/members", json={"user_id": str(newcomer.id),
                                  "role": "viewer"}, headers=headers)).status_code == 201
        assert (await client.patch(f"/api/v1/orgs/{org_id}", json={"automation_paused": True},
                                   headers=headers)).status_code == 200

    rows = (await db.execute(text("SELECT org_id, prev_hash, row_hash FROM audit_log WHERE org_id = :org ORDER BY id"),
                             {"org": uuid.UUID(org_ids[0])})).all()
    assert len(rows) == 3 and rows[0].prev_hash is None
    assert [r.prev_hash for r in rows[1:]] == [r.row_hash for r in rows[:-1]]
    report = await asyncio.to_thread(verify, libpq_url(db_url))
    assert report.intact and report.rows >= 6 and report.chains >= 2


async def test_concurrent_writers_keep_one_unbroken_chain(db_url):
    conninfo, org_id = libpq_url(db_url), uuid.uuid4()

    async def writer() -> None:
        async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
            for n in range(15):
                async with conn.transaction():
                    await conn.execute("INSERT INTO audit_log (org_id, actor_type, action, target_type) "
                                       "VALUES (%s, 'system', %s, 'host')", (org_id, f"step-{n}"))

    await asyncio.gather(*(writer() for _ in range(4)))
    report = await asyncio.to_thread(verify, conninfo, str(org_id))
    assert report.intact and report.rows == 60


async def test_rolled_back_savepoint_does_not_leave_a_gap_in_the_chain(db_url):
    conninfo, org_id = libpq_url(db_url), uuid.uuid4()
    insert = "INSERT INTO audit_log (org_id, actor_type, action, target_type) VALUES (%s, 'system', %s, 'host')"

    class Abandon(Exception):
        pass

    async with await psycopg.AsyncConnection.connect(conninfo) as conn, conn.transaction():
        await conn.execute(insert, (org_id, "kept-1"))
        with pytest.raises(Abandon):
            async with conn.transaction():
                await conn.execute(insert, (org_id, "rolled-back"))
                raise Abandon
        await conn.execute(insert, (org_id, "kept-2"))

    report = await asyncio.to_thread(verify, conninfo, str(org_id))
    assert report.intact and report.rows == 2


async def test_verifier_reports_an_edited_row(db_url, db):
    conninfo, org_id, other = libpq_url(db_url), uuid.uuid4(), uuid.uuid4()
    await _append(conninfo, org_id, 5)
    await _append(conninfo, other, 3)
    ids = await _chain_ids(db, org_id)
    _tamper(conninfo, f"UPDATE audit_log SET after = '{{\"n\": 99}}' WHERE id = {ids[2]}")

    report = await asyncio.to_thread(verify, conninfo)
    assert [(b.chain, b.row_id, b.kind) for b in report.breaks] == [(str(org_id), ids[2], "edited")]


async def test_verifier_reports_a_deleted_row(db_url, db):
    conninfo, org_id = libpq_url(db_url), uuid.uuid4()
    await _append(conninfo, org_id, 5)
    ids = await _chain_ids(db, org_id)
    _tamper(conninfo, f"DELETE FROM audit_log WHERE id = {ids[1]}")

    report = await asyncio.to_thread(verify, conninfo, str(org_id))
    assert [(b.row_id, b.kind) for b in report.breaks] == [(ids[2], "missing")]


async def test_verifier_reports_a_deleted_first_row(db_url, db):
    conninfo = libpq_url(db_url)
    await _append(conninfo, None, 3)
    ids = list(await db.scalars(text("SELECT id FROM audit_log WHERE org_id IS NULL ORDER BY id")))
    _tamper(conninfo, f"DELETE FROM audit_log WHERE id = {ids[0]}")

    report = await asyncio.to_thread(verify, conninfo, "global")
    assert [(b.chain, b.row_id, b.kind) for b in report.breaks] == [("global", ids[1], "missing")]


async def test_verifier_reports_swapped_rows(db_url, db):
    conninfo, org_id = libpq_url(db_url), uuid.uuid4()
    await _append(conninfo, org_id, 6)
    ids = await _chain_ids(db, org_id)
    first, second = ids[1], ids[4]
    columns = ("actor_type", "actor_id", "actor_name", "action", "target_type", "target_id", "before", "after",
               "created_at", "prev_hash", "row_hash")
    swap = ", ".join(f"{c} = o.{c}" for c in columns)
    _tamper(conninfo, f"""
        UPDATE audit_log a SET {swap} FROM audit_log o
        WHERE (a.id, o.id) IN (({first}, {second}), ({second}, {first}))
    """)

    report = await asyncio.to_thread(verify, conninfo, str(org_id))
    assert [(b.row_id, b.kind) for b in report.breaks] == [(first, "reordered")]


async def test_verify_command_exit_codes(db_url, db):
    conninfo, org_id = libpq_url(db_url), uuid.uuid4()
    await _append(conninfo, org_id, 4)
    env = os.environ | {"DATABASE_URL": db_url}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "api.audit_verify", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60)

    intact = await asyncio.to_thread(run, "--org", str(org_id), "--heads")
    assert intact.returncode == 0, intact.stderr
    assert "4 rows in 1 chain(s)" in intact.stdout and "rows/s" in intact.stdout
    head = (await db.execute(text("SELECT id, row_hash FROM audit_log WHERE org_id = :org ORDER BY id DESC LIMIT 1"),
                             {"org": org_id})).one()
    assert f"head {org_id}: row {head.id} {head.row_hash}" in intact.stdout

    ids = await _chain_ids(db, org_id)
    _tamper(conninfo, f"UPDATE audit_log SET actor_name = 'someone else' WHERE id = {ids[0]}")
    broken = await asyncio.to_thread(run)
    assert broken.returncode == 1
    assert f"row {ids[0]} edited" in broken.stdout
