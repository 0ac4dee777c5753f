"""What the writers share: the cell type and one factory (the zip is `zip_writer`).

`open_writer` serves the files that mirror an upload (the failed-rows file of
an import: XLSX, CSV, a JSON array or NDJSON). Exports to JSON use
`JsonZipWriter` directly, because they are split into parts.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import BinaryIO, Literal, Protocol

Cell = str | int | float | bool | dt.datetime | dt.date | dt.time | Decimal | None
Format = Literal["xlsx", "csv", "json", "ndjson"]


class RowWriter(Protocol):
    def write_rows(self, rows: Iterable[Sequence[Cell]]) -> None: ...
    def close(self) -> None: ...


def open_writer(
    fmt: Format,
    target: str | os.PathLike[str] | BinaryIO,
    headers: list[str],
    *,
    sheet_name: str = "Sheet1",
    base_name: str = "export",
) -> RowWriter:
    """A writer with the headers already written; call `write_rows`, then `close`.

    `base_name` is accepted for symmetry with `JsonZipWriter`; none of these
    single-file formats uses it.
    """
    # Imported here: these modules import Cell from this one.
    from loadbay.tabular.csv_writer import CsvWriter
    from loadbay.tabular.jsonzip_writer import JsonRowWriter
    from loadbay.tabular.xlsx_writer import XlsxWriter

    del base_name
    if fmt == "xlsx":
        xlsx = XlsxWriter(target)
        xlsx.add_sheet(sheet_name, headers)
        return xlsx
    if fmt == "csv":
        csv = CsvWriter(target)
        csv.write_header(headers)
        return csv
    if fmt in ("json", "ndjson"):
        return JsonRowWriter(target, headers, lines=fmt == "ndjson")
    raise ValueError(f"unknown format {fmt!r}")
