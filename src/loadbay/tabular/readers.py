"""Streaming readers for uploaded tables: one interface over CSV/TSV, XLSX/XLS, JSON and NDJSON.

`open_table` picks the format's reader; the table they all give, its limits and errors
live in `loadbay.tabular.table` (the format modules import that module, never this one,
so this dispatcher and the readers it picks do not import each other) and are named
here too for callers.
"""

from __future__ import annotations

import itertools
import pathlib

from loadbay.tabular.table import (
    Cell,
    JsonText,
    Limits,
    Row,
    Table,
    TableError,
    chunk_cell,
    date_text,
    detect_header,
    header_text,
    restore_chunk_cells,
    unique_headers,
)

__all__ = [
    "Cell",
    "JsonText",
    "Limits",
    "Row",
    "Table",
    "TableError",
    "chunk_cell",
    "date_text",
    "detect_header",
    "header_text",
    "iter_head",
    "open_table",
    "restore_chunk_cells",
    "unique_headers",
]


def open_table(
    path: pathlib.Path,
    fmt: str,
    *,
    has_header_row: bool = True,
    sheet: str | None = None,
    limits: Limits = Limits(),
    dates_as_text: bool = False,
    header_row: int | None = None,
) -> Table:
    """Open `path` as a table of format `fmt` (see `sniff.detect_format`).

    `dates_as_text`: spreadsheet date cells come as `date_text`, the form imports
    validate and store, instead of date objects (the readers convert each distinct
    date once; converting every cell of every row afterwards cost ~2 µs a row)."""
    # Imported here: each format loads only when a file of its kind is read.
    if fmt in ("csv", "tsv"):
        from loadbay.tabular.csv_reader import open_csv

        return open_csv(
            path, fmt, has_header_row=has_header_row, limits=limits, header_row=header_row
        )
    if fmt in ("xlsx", "xls"):
        from loadbay.tabular.xlsx_reader import open_workbook

        return open_workbook(
            path,
            fmt,
            has_header_row=has_header_row,
            sheet=sheet,
            limits=limits,
            dates_as_text=dates_as_text,
            header_row=header_row,
        )
    if fmt in ("json", "ndjson"):
        from loadbay.tabular.json_reader import open_json

        return open_json(path, fmt, limits=limits)
    raise TableError("import-002", f"Unsupported file type: {fmt}")


def iter_head(
    path: pathlib.Path,
    fmt: str,
    n: int,
    has_header_row: bool = True,
    sheet: str | None = None,
    limits: Limits = Limits(),
) -> tuple[list[str], list[Row]]:
    """Headers and the first `n` data rows, for previews."""
    with open_table(path, fmt, has_header_row=has_header_row, sheet=sheet, limits=limits) as t:
        return t.headers, list(itertools.islice(t.rows(), n))
