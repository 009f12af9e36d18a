"""Migration 0015: scan history and agent results use lz4 exactly when the server is built with it (the embedded
server is not; the system PostgreSQL of DATABASE_URL usually is), and a downgrade restores the default."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from tests.services.test_migration_0014 import migrate

HISTORY_COLUMNS = {("scan_results", c) for c in ("check_ids", "rule_ids", "statuses", "actuals", "exception_ids")}
EXPECTED = HISTORY_COLUMNS | {("agent_jobs", "result")}


async def _compressed_columns(db) -> dict[tuple[str, str], str]:
    rows = await db.execute(text("""
        SELECT attrelid::regclass::text, attname, attcompression FROM pg_attribute
        WHERE attrelid IN ('scan_results'::regclass, 'agent_jobs'::regclass) AND attcompression <> ''
    """))
    return {(table, column): method for table, column, method in rows}


async def _server_has_lz4(db) -> bool:
    return await db.scalar(text(
        "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"))


async def test_history_columns_use_lz4_exactly_when_the_server_has_it(db):
    compressed = await _compressed_columns(db)
    if await _server_has_lz4(db):
        assert compressed == dict.fromkeys(EXPECTED, "l")
    else:
        assert compressed == {}


async def test_downgrading_0015_restores_the_default_method(db, db_url):
    await db.close()
    await asyncio.to_thread(migrate, db_url, "0014", down=True)
    assert await _compressed_columns(db) == {}
    await asyncio.to_thread(migrate, db_url, "head")
    assert set(await _compressed_columns(db)) == (EXPECTED if await _server_has_lz4(db) else set())
