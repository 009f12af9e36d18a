"""Verify the audit log's hash chains: finds the first edited, missing or reordered row of each organization.

    python -m api.audit_verify [--org ORG_ID | --org global] [--heads]

Exit code 0 when every chain verified is intact, 1 otherwise. Reads DATABASE_URL. The canonical text mirrors
audit_log_canonical() of migration 0006; every value is read back as text through the same SQL casts.
A chain alone cannot show that its newest rows were cut off (what remains is a valid shorter chain): keep the
heads printed by `--heads` elsewhere (a ticket, a log store) and compare them on the next run.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import psycopg

from config import get_settings
from models.db import libpq_url

GLOBAL = "global"

CHAIN_COLUMNS = """
    SELECT id, row_hash, prev_hash, org_id::text, actor_type, actor_id::text, actor_name, action, target_type,
           target_id, before::text, after::text,
           to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
    FROM audit_log
"""


@dataclass
class Break:
    chain: str
    row_id: int
    kind: str  # edited | missing | reordered
    detail: str


@dataclass
class Report:
    rows: int = 0
    chains: int = 0
    seconds: float = 0.0
    breaks: list[Break] = field(default_factory=list)
    heads: dict[str, tuple[int, str]] = field(default_factory=dict)  # chain → (last id, last row_hash)

    @property
    def intact(self) -> bool:
        return not self.breaks

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def row_hash(canonical_values: Iterable[str | None]) -> str:
    """sha256 hex of the canonical text of (prev_hash, org_id, actor_type, actor_id, actor_name, action,
    target_type, target_id, before, after, created_at in UTC ISO with microseconds): each value `length:value`,
    or `-` for NULL, joined by `|`."""
    text = "|".join(["-" if v is None else f"{len(v)}:{v}" for v in canonical_values])
    return hashlib.sha256(text.encode()).hexdigest()


class _Chain:
    """Walks one chain in id order; remembers the first break and keeps reading to tell a deletion from a swap."""

    def __init__(self, name: str):
        self.name = name
        self.last: str | None = None
        self.last_id = 0
        self.first_break: Break | None = None
        self._wanted: str | None = None  # predecessor hash of the first broken link, looked for further on

    def add(self, row: tuple) -> None:
        row_id, stored, prev = row[0], row[1], row[2]
        computed = row_hash(row[2:])
        if self.first_break is None:
            if computed != stored:
                self.first_break = Break(self.name, row_id, "edited",
                                         "row_hash does not match the row's content")
            elif prev != self.last:
                self.first_break = Break(self.name, row_id, "missing",
                                         "prev_hash does not match the previous row's row_hash "
                                         "(a row before it was deleted or rewritten)")
                self._wanted = self.last
        elif self._wanted is not None and prev == self._wanted and computed == stored:
            # The row that should have followed the break sits later in the chain: rows were moved, not removed.
            self.first_break.kind = "reordered"
            self.first_break.detail = (f"rows out of chain order: row {row_id} links to the row before "
                                      f"row {self.first_break.row_id}")
            self._wanted = None
        self.last, self.last_id = stored, row_id


def _prefetched(cursor: psycopg.ServerCursor, size: int) -> Iterator[list[tuple]]:
    """Fetch the next batch while the caller hashes this one: the wait for the server releases the GIL."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(cursor.fetchmany, size)
        while rows := pending.result():
            pending = pool.submit(cursor.fetchmany, size)
            yield rows


def _close(report: Report, chain: _Chain | None) -> None:
    if chain is None:
        return
    report.heads[chain.name] = (chain.last_id, chain.last or "")
    if chain.first_break:
        report.breaks.append(chain.first_break)


def verify(conninfo: str, org: str | None = None, *, batch: int = 20_000) -> Report:
    """Stream every chain (or one) in id order through a server-side cursor and recompute it."""
    report = Report()
    started = time.perf_counter()
    if org is None:
        query, params = CHAIN_COLUMNS + " ORDER BY audit_log.org_id, audit_log.id", None
    elif org == GLOBAL:
        query, params = CHAIN_COLUMNS + " WHERE org_id IS NULL ORDER BY id", None
    else:
        query, params = CHAIN_COLUMNS + " WHERE org_id = %s ORDER BY id", (uuid.UUID(org),)
    with psycopg.connect(conninfo) as conn, conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        # Binary results: the text columns arrive as the same UTF-8 bytes, the id without parsing.
        with conn.cursor(name="audit_verify", binary=True) as cursor:
            cursor.execute(query, params)
            chain: _Chain | None = None
            name: str | None = None
            for rows in _prefetched(cursor, batch):
                for row in rows:
                    key = row[3] or GLOBAL
                    if key != name:
                        _close(report, chain)
                        chain, name = _Chain(key), key
                        report.chains += 1
                    chain.add(row)
                report.rows += len(rows)
            _close(report, chain)
    report.seconds = time.perf_counter() - started
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--org", help="one organization's chain (a UUID, or 'global' for rows without org)")
    parser.add_argument("--heads", action="store_true", help="print each chain's last id and row_hash")
    args = parser.parse_args(argv)
    if args.org not in (None, GLOBAL):
        try:
            uuid.UUID(args.org)
        except ValueError:
            parser.error(f"--org: not a UUID: {args.org}")
    url = get_settings().database_url
    if not url:
        print("DATABASE_URL is not set", file=sys.stderr)
        return 2
    report = verify(libpq_url(url), args.org)
    if args.heads:
        for chain, (last_id, last_hash) in report.heads.items():
            print(f"head {chain}: row {last_id} {last_hash}")
    for item in report.breaks:
        print(f"BROKEN chain {item.chain}: row {item.row_id} {item.kind} ({item.detail})")
    state = "intact" if report.intact else f"{len(report.breaks)} broken chain(s)"
    print(f"{report.rows} rows in {report.chains} chain(s) verified in {report.seconds:.2f} s "
          f"({report.rows_per_second:,.0f} rows/s): {state}")
    return 0 if report.intact else 1


if __name__ == "__main__":
    sys.exit(main())
