"""CSV: UTF-8 with a BOM, the stored text; the row builder makes each field's text.

In parallel, each stretch is its lines as they are; the parts follow the header.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Sequence
from typing import Any, BinaryIO

from loadbay.exports import cells
from loadbay.exports.cells import Convert
from loadbay.exports.formats.base import ExportFormat, WrittenPart, headers
from loadbay.exports.plan import Column, ExportPlan
from loadbay.tabular.csv_writer import CsvWriter
from loadbay.tabular.zip_writer import Deflated

_CONVERT: dict[str, Convert] = {
    "timestamp": cells.timestamp_text,
    "number": cells.number,
    "integer": cells.number,
    "boolean": cells.boolean,
}


class CsvFormat(ExportFormat):
    download = "csv"
    file_type = "csv"

    def converter(self, kind: str) -> Convert | None:
        return _CONVERT.get(kind) or cells.text

    def cell_source(self, j: int, column: Column, convert: Convert | None, value: str) -> str:
        return cells.csv_cell_source(j, column, convert, value)

    def write(
        self, target: BinaryIO, plan: ExportPlan, rows: Iterable[Any], *, stem: str, part_rows: int
    ) -> None:
        with CsvWriter(target) as csv:
            csv.write_header(headers(plan))
            csv.write_fields(rows)

    def write_part(
        self, out: BinaryIO, plan: ExportPlan, rows: Iterable[Any], *, first: int, part_rows: int
    ) -> tuple[Deflated, ...]:
        with CsvWriter(out, bom=False) as csv:
            csv.write_fields(rows)
        return ()

    def assemble(
        self, target: BinaryIO, plan: ExportPlan, parts: Sequence[WrittenPart], *, stem: str
    ) -> None:
        with CsvWriter(target) as csv:
            csv.write_header(headers(plan))
            for part in parts:
                with open(part.path, "rb") as f:
                    shutil.copyfileobj(f, target, 1 << 20)
