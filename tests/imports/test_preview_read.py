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
