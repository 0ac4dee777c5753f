"""JSON: a zip of `{stem}_1.json`, `{stem}_2.json`, ... arrays of records keyed by field id.

In parallel, each stretch holds whole parts (its length is rounded up to them) written
as whole deflated zip entries, added to the zip as they are and numbered in order. A
short part would end up mid-zip, so stretches are capped.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Sequence
from typing import Any, BinaryIO

from loadbay.exports import cells
from loadbay.exports.cells import Convert
from loadbay.exports.formats.base import ExportFormat, WrittenPart
from loadbay.exports.plan import ExportPlan
from loadbay.tabular.jsonzip_writer import COMPRESSLEVEL, JsonZipWriter
from loadbay.tabular.zip_writer import Deflated, DeflatedEntries, StreamingZip


class JsonZipFormat(ExportFormat):
    download = "json"
    file_type = "zip"
    records = True
    capped = True

    def converter(self, kind: str) -> Convert | None:
        return cells.timestamp_text if kind == "timestamp" else None

    def stretch_rows(self, rows: int, part_rows: int) -> int:
        return math.ceil(rows / part_rows) * part_rows

    def write(
        self, target: BinaryIO, plan: ExportPlan, rows: Iterable[Any], *, stem: str, part_rows: int
    ) -> None:
        with JsonZipWriter(target, base_name=stem, part_rows=part_rows) as archive:
            archive.write_records(rows)

    def write_part(
        self, out: BinaryIO, plan: ExportPlan, rows: Iterable[Any], *, first: int, part_rows: int
    ) -> tuple[Deflated, ...]:
        entries = DeflatedEntries(out, COMPRESSLEVEL)
        with JsonZipWriter(out, base_name="part", part_rows=part_rows, entries=entries) as archive:
            archive.write_records(rows)
        return tuple(piece for _name, piece in entries.entries)

    def assemble(
        self, target: BinaryIO, plan: ExportPlan, parts: Sequence[WrittenPart], *, stem: str
    ) -> None:
        archive = StreamingZip(target, COMPRESSLEVEL)
        number = 0
        for part in parts:
            with open(part.path, "rb") as f:
                for piece in part.pieces:
                    number += 1
                    archive.add_deflated(f"{stem}_{number}.json", f, piece)
        if number == 0:
            archive.add(f"{stem}_1.json", "[]")
        archive.finish()
        with contextlib.suppress(AttributeError, OSError):
            target.flush()
