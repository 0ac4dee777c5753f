"""XLSX: one sheet, real numbers, dates and times.

In parallel, each stretch is the sheet's rows as a raw deflate piece ending on a byte
boundary without a final block; the sheet's writer splices the pieces into its one
deflate stream (pigz's way) and combines their CRC-32s. A stretch's row numbers are
fixed before it is read, so stretches are capped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, BinaryIO

from loadbay.exports import cells
from loadbay.exports.cells import Convert
from loadbay.exports.formats.base import ExportFormat, WrittenPart, headers, sheet_name, widths
from loadbay.exports.plan import ExportPlan
from loadbay.tabular.xlsx_writer import XlsxRowsPart, XlsxWriter
from loadbay.tabular.zip_writer import Deflated

_CONVERT: dict[str, Convert] = {
    "timestamp": cells.xlsx_timestamp,
    "number": cells.number,
    "integer": cells.number,
    "boolean": cells.boolean,
    "date": cells.xlsx_date,
    "datetime": cells.xlsx_datetime,
}


class XlsxFormat(ExportFormat):
    download = "xlsx"
    file_type = "xlsx"
    capped = True

    def converter(self, kind: str) -> Convert | None:
        return _CONVERT.get(kind) or cells.text

    def write(
        self, target: BinaryIO, plan: ExportPlan, rows: Iterable[Any], *, stem: str, part_rows: int
    ) -> None:
        with XlsxWriter(target) as xlsx:
            xlsx.add_sheet(sheet_name(plan), headers(plan), widths=widths(plan) or None)
            xlsx.write_rows(rows)

    def write_part(
        self, out: BinaryIO, plan: ExportPlan, rows: Iterable[Any], *, first: int, part_rows: int
    ) -> tuple[Deflated, ...]:
        part = XlsxRowsPart(out, first_row=first + 2, sheet=sheet_name(plan))  # row 1: header
        part.write_rows(rows)
        return (part.end(),)

    def assemble(
        self, target: BinaryIO, plan: ExportPlan, parts: Sequence[WrittenPart], *, stem: str
    ) -> None:
        with XlsxWriter(target) as xlsx:
            xlsx.add_sheet(sheet_name(plan), headers(plan), widths=widths(plan) or None)
            for part in parts:
                with open(part.path, "rb") as f:
                    (piece,) = part.pieces
                    xlsx.splice_rows(f, piece, part.rows)
