"""The preview's reader child: an unexpected failure answers as a bad file and is logged."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from loadbay.imports.preview_read import read_head
from loadbay.tabular.readers import Limits, TableError


def test_an_unexpected_reader_failure_is_a_400_code_and_its_trace_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "outlets.csv"  # a folder where the file should be: not a TableError
    folder.mkdir()
    with (
        caplog.at_level(logging.ERROR, logger="loadbay.imports"),
        pytest.raises(TableError) as raised,
    ):
        read_head(
            folder, "csv", has_header_row=True, sheet=None, limits=Limits(), n=5,
            memory_bytes=1024**3, timeout=30,
        )  # fmt: skip
    assert raised.value.code == "import-015"
    assert raised.value.message == "The file could not be read (IsADirectoryError)"
    assert "outlets.csv" in caplog.text and "Traceback" in caplog.text
    assert "IsADirectoryError" in caplog.text


def test_a_head_read_stops_after_the_rows_it_shows(tmp_path: Path) -> None:
    """`count=False` (the console's wizard pages) leaves the file after the head: a row
    the readers refuse deep in the file is not reached, and nothing is counted."""
    path = tmp_path / "outlets.csv"
    lines = ["Outlet Code,Name"] + [f"R{n},row {n}" for n in range(200)] + ["R200," + "x" * 50]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    limits = Limits(max_cell_chars=20)
    args = {"has_header_row": True, "sheet": None, "limits": limits, "n": 5,
            "memory_bytes": 1024**3, "timeout": 30}  # fmt: skip
    head = read_head(path, "csv", count=False, **args)  # type: ignore[arg-type]
    assert head.total is None and head.headers == ["Outlet Code", "Name"]
    assert [number for number, _ in head.rows] == [2, 3, 4, 5, 6]
    assert len(head.raw_rows) == 20
    with pytest.raises(TableError) as counted:  # the full read reaches the long cell
        read_head(path, "csv", **args)  # type: ignore[arg-type]
    assert counted.value.code == "import-040" and "Row 202" in counted.value.message
