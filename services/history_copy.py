"""PostgreSQL's binary COPY format for scan history rows, encoded with the per-template parts computed once.

psycopg's generic dumpers handle each array element in Python; a scan's check ids and rule ids are the same for
every scan of a template and its statuses take five values, so most of a row here is bytes already made.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Sequence
from itertools import chain

UUID_OID, TEXT_OID = 2950, 25
SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
TRAILER = b"\xff\xff"
NULL = b"\xff\xff\xff\xff"

_length = struct.Struct(">i").pack
_array_header = struct.Struct(">iiiii").pack
_empty_array_header = struct.Struct(">iii").pack


def array(oid: int, elements: Sequence[bytes | None]) -> bytes:
    """A one-dimensional array in binary send format (elements already encoded, None for NULL)."""
    if not elements:
        return _empty_array_header(0, 0, oid)
    if all(e is None for e in elements):  # e.g. a scan's exception ids when nothing was waived
        return _array_header(1, 1, oid, len(elements), 1) + NULL * len(elements)
    has_null = any(e is None for e in elements)
    return _array_header(1, has_null, oid, len(elements), 1) + b"".join(
        NULL if e is None else _length(len(e)) + e for e in elements)


def uuid_array(values: Sequence[uuid.UUID | None]) -> bytes:
    return array(UUID_OID, [None if v is None else v.bytes for v in values])


def text_array(values: Sequence[str | None]) -> bytes:
    if not values or None in values:
        return array(TEXT_OID, [None if v is None else v.encode() for v in values])
    # Without NULLs (a scan's actual values, usually) each element is its length and bytes, interleaved in C.
    encoded = list(map(str.encode, values))
    return _array_header(1, 0, TEXT_OID, len(encoded), 1) + b"".join(
        chain.from_iterable(zip(map(_length, map(len, encoded)), encoded, strict=True)))


_UUID_LENGTH = _length(16)


def sparse_uuid_array(length: int, present: dict[int, uuid.UUID]) -> bytes:
    """A uuid array of `length` elements, NULL except at the given positions (a scan's waiving exceptions)."""
    if not present:
        return array(UUID_OID, [None] * length)
    elements = [NULL] * length
    for position, value in present.items():
        elements[position] = _UUID_LENGTH + value.bytes
    return _array_header(1, 1, UUID_OID, length, 1) + b"".join(elements)


_STATUS_ELEMENTS = {s: _length(len(s)) + s.encode() for s in ("pass", "fail", "error", "skip", "waived")}


def status_array(statuses: Sequence[str]) -> bytes:
    """Statuses come from five values, so their encoded elements are looked up rather than built."""
    if not statuses:
        return _empty_array_header(0, 0, TEXT_OID)
    return _array_header(1, 0, TEXT_OID, len(statuses), 1) + b"".join(map(_STATUS_ELEMENTS.__getitem__, statuses))


def row(*fields: bytes | None) -> bytes:
    """One COPY tuple: field count, then each field's length and bytes (-1 for NULL)."""
    return struct.pack(">h", len(fields)) + b"".join(
        NULL if f is None else _length(len(f)) + f for f in fields)

