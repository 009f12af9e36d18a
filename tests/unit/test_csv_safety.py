import csv
import io

import pytest

from domain.csv_safety import escape_cell, escape_row


@pytest.mark.parametrize("value", ["=HYPERLINK(\"http://x\",\"y\")", "+1+2", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd",
                                   "=cmd|' /C calc'!A0"])
def test_cells_that_a_spreadsheet_would_run_get_a_leading_quote(value):
    assert escape_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["sshd_config", "10.0.0.1", "a=b", " =x", "", "'quoted", "PermitRootLogin no"])
def test_plain_text_is_unchanged(value):
    assert escape_cell(value) == value


def test_values_that_are_not_text_are_unchanged():
    assert escape_row([None, 5, -3, 1.5]) == (None, 5, -3, 1.5)


def test_an_escaped_row_reads_back_as_text_through_the_csv_module():
    buffer = io.StringIO()
    csv.writer(buffer).writerow(escape_row(["host", "=1+1", "pass"]))
    assert next(csv.reader(io.StringIO(buffer.getvalue()))) == ["host", "'=1+1", "pass"]
