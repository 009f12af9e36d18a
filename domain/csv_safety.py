"""Spreadsheet-safe CSV cells: text that a spreadsheet would run as a formula is written as plain text."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# OWASP's CSV injection rule: a cell starting with one of these may be read as a formula (or, for tab and
# carriage return, shifted into one), so it gets a leading single quote, which spreadsheets show as text.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def escape_cell(value: Any) -> Any:
    """The cell as written to CSV: text starting with a formula trigger gets a leading `'`; other values as-is."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def escape_row(row: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(escape_cell(value) for value in row)
