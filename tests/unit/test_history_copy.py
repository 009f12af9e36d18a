"""The hand-made binary COPY rows of scan history read back as the values that went in."""

import uuid

import psycopg

from models.db import libpq_url
from services import history_copy


def copy_and_read(pg_admin_url: str, rows: list[bytes]) -> list[tuple]:
    with psycopg.connect(libpq_url(pg_admin_url)) as conn:
        conn.execute("CREATE TEMP TABLE h (scan_id uuid, check_ids uuid[], rule_ids text[], statuses text[],"
                     " actuals text[], exception_ids uuid[])")
        with conn.cursor().copy("COPY h FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(b"".join([history_copy.SIGNATURE, *rows, history_copy.TRAILER]))
        return conn.execute("SELECT * FROM h ORDER BY scan_id").fetchall()


def test_rows_round_trip_with_nulls_unicode_and_empty_arrays(pg_admin_url):
    scan_a, scan_b = uuid.UUID(int=1), uuid.UUID(int=2)
    checks = [uuid.uuid4(), uuid.uuid4(), uuid.uuid4()]
    waiver = uuid.uuid4()
    actuals = ['value with "quotes", commas and a\nnewline', None, "ünïcødé ✓"]
    rows = [
        history_copy.row(scan_a.bytes, history_copy.uuid_array(checks), history_copy.text_array(["1.1", "1.2", "2"]),
                         history_copy.status_array(["pass", "waived", "error"]), history_copy.text_array(actuals),
                         history_copy.uuid_array([None, waiver, None])),
        history_copy.row(scan_b.bytes, history_copy.uuid_array([]), history_copy.text_array([]),
                         history_copy.status_array([]), history_copy.text_array([]),
                         history_copy.uuid_array([])),
    ]
    first, second = copy_and_read(pg_admin_url, rows)
    assert first == (scan_a, checks, ["1.1", "1.2", "2"], ["pass", "waived", "error"], actuals, [None, waiver, None])
    assert second == (scan_b, [], [], [], [], [])


def test_an_array_of_only_nulls_reads_back_as_nulls(pg_admin_url):
    scan = uuid.UUID(int=3)
    row = history_copy.row(
        scan.bytes, history_copy.uuid_array([uuid.UUID(int=9)] * 2), history_copy.text_array(["a", "b"]),
        history_copy.status_array(["fail", "skip"]), history_copy.text_array(["x", "y"]),
        history_copy.uuid_array([None, None]))
    [(_, _, _, statuses, _, exceptions)] = copy_and_read(pg_admin_url, [row])
    assert statuses == ["fail", "skip"] and exceptions == [None, None]


def test_a_sparse_uuid_array_reads_back_with_nulls_between(pg_admin_url):
    scan, waiver = uuid.UUID(int=4), uuid.uuid4()
    row = history_copy.row(
        scan.bytes, history_copy.uuid_array([uuid.UUID(int=9)] * 3), history_copy.text_array(["a", "b", "c"]),
        history_copy.status_array(["pass", "waived", "fail"]), history_copy.text_array(["x", "y", "z"]),
        history_copy.sparse_uuid_array(3, {1: waiver}))
    [(_, _, _, _, _, exceptions)] = copy_and_read(pg_admin_url, [row])
    assert exceptions == [None, waiver, None]
    assert history_copy.sparse_uuid_array(3, {}) == history_copy.uuid_array([None, None, None])
