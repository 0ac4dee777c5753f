"""CSV formula escaping (DECISIONS.md, Exports, revised 2026-12-04): numbers and phone
numbers are written as stored, formula-looking text gets one `'`, and the CSV reader
takes exactly that one off again, so a written file reads back to the same values."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from loadbay.tabular.csv_writer import CsvWriter
from loadbay.tabular.formula import escape_formula, needs_escape, unescape_formula
from loadbay.tabular.readers import open_table

AS_STORED = ["-6.2", "+5", "-1e3", "+62 812-3456-7890", "+1 (555) 123.4567", "-0", "+62812"]
ESCAPED = [
    '=HYPERLINK("http://evil","x")',
    "@SUM(A1)",
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "-2-3",
    "\tcmd",
    "\r=1",
    "-",
    "+",
    "+62 shop",
    "-6.2e",
    "-inf",
    "'=already",
    "''-1",
    "'+",
]


@pytest.mark.parametrize("value", AS_STORED)
def test_numbers_and_phone_numbers_are_written_as_stored(value: str) -> None:
    assert not needs_escape(value)
    assert escape_formula(value) == value


@pytest.mark.parametrize("value", ESCAPED)
def test_formula_looking_text_is_escaped(value: str) -> None:
    assert escape_formula(value) == "'" + value


@pytest.mark.parametrize("value", AS_STORED + ESCAPED + ["'plain", "'", "a=b", "", "'6"])
def test_unescape_inverts_escape(value: str) -> None:
    assert unescape_formula(escape_formula(value)) == value


def test_an_older_exports_escapes_still_read_back() -> None:
    # exports before the revision wrote `'-6.2` and `'+62812` for stored -6.2 / +62812
    assert unescape_formula("'-6.2") == "-6.2"
    assert unescape_formula("'+62812") == "+62812"


def test_csv_file_round_trip(tmp_path: Path) -> None:
    """Every value, and every value behind a `'`, comes back from a written CSV file."""
    base = AS_STORED + ESCAPED + ["'plain", "'", "plain", "0812", "日本"]
    values = list(dict.fromkeys(itertools.chain(base, ("'" + v for v in base))))
    path = tmp_path / "out.csv"
    with CsvWriter(path) as writer:
        writer.write_header(["v", "n"])
        writer.write_rows([[v, str(i)] for i, v in enumerate(values)])
    with open_table(path, "csv") as table:
        read = [cells[0] for _, cells in table.rows()]
    assert read == values
