"""lz4 for scan history and agent results, where the server is built with it

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 16:10:00.000000

A scan's history row (`scan_results`: parallel arrays of its check ids, rule ids, statuses, actual values and
waiving exceptions) and an agent's compliance result (`agent_jobs.result`) are each tens of kilobytes, so
PostgreSQL compresses them on the way into TOAST. With pglz, compressing a 50-scan micro-batch of history took
~10 ms of the server's time per 27 ms COPY; lz4 takes a fraction of that, reads back faster, and the history is
~13 % larger (10.5 against 9.2 MB per 1,000 scans of 300 checks). Only new values are written with lz4; stored
ones stay as they are, and both read back the same.

A server built without lz4 (the embedded PostgreSQL that `make run` and the tests use) keeps pglz: the choice is
made from the server's own list of compression methods, so the schema is the same everywhere else.
"""

from alembic import op
from sqlalchemy import text

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

COLUMNS = {"scan_results": ("check_ids", "rule_ids", "statuses", "actuals", "exception_ids"),
           "agent_jobs": ("result",)}


def _has_lz4() -> bool:
    return bool(op.get_bind().scalar(text(
        "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")))


def _set_compression(method: str) -> None:
    if not _has_lz4():
        return
    for table, columns in COLUMNS.items():
        op.execute(f"ALTER TABLE {table} " + ", ".join(f"ALTER COLUMN {c} SET COMPRESSION {method}" for c in columns))


def upgrade() -> None:
    _set_compression("lz4")


def downgrade() -> None:
    _set_compression("default")
