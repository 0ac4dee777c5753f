"""What an export format does, for the single-process and the parallel path alike.

A format turns stored values into cells (`converter`, `cell_source`), writes a whole
file from rows (`write`), and for big exports writes one stretch of rows into a scratch
file in a worker process (`write_part`) and joins those parts into the file
(`assemble`). Neither path knows any format by name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO, ClassVar

from loadbay.exports import cells
from loadbay.exports.cells import Convert
from loadbay.exports.plan import Column, ExportPlan
from loadbay.tabular.xlsx_writer import safe_sheet_name
from loadbay.tabular.zip_writer import Deflated

_WIDTHS = {"timestamp": 20.0, "datetime": 20.0, "date": 12.0}


@dataclass(frozen=True)
class WrittenPart:
    """A stretch a worker wrote: its scratch file, its deflated pieces there (if the
    format deflates), and its row count."""

    path: str
    pieces: tuple[Deflated, ...]
    rows: int


class ExportFormat(ABC):
    download: ClassVar[str]  # the request's `download` value
    file_type: ClassVar[str]  # the file's extension, and the log's `fileType`
    records: ClassVar[bool] = False  # rows as {field id: value} (else lists of cells)
    # Whether a parallel stretch must hold exactly its planned rows (its rows' places in
    # the file are fixed before any is read).
    capped: ClassVar[bool] = False

    @abstractmethod
    def converter(self, kind: str) -> Convert | None:
        """What turns a stored value of `kind` into a cell; None: the value as it is."""

    def cell_source(self, j: int, column: Column, convert: Convert | None, value: str) -> str:
        """The source of one cell's expression in the compiled row builder."""
        return cells.cell_source(j, column, convert, value)

    def stretch_rows(self, rows: int, part_rows: int) -> int:
        """A parallel stretch's length, from the even share `rows`."""
        return rows

    @abstractmethod
    def write(
        self, target: BinaryIO, plan: ExportPlan, rows: Iterable[Any], *, stem: str, part_rows: int
    ) -> None:
        """The whole file, in this process."""

    @abstractmethod
    def write_part(
        self, out: BinaryIO, plan: ExportPlan, rows: Iterable[Any], *, first: int, part_rows: int
    ) -> tuple[Deflated, ...]:
        """One stretch (starting at row `first` of the export) into a scratch file."""

    @abstractmethod
    def assemble(
        self, target: BinaryIO, plan: ExportPlan, parts: Sequence[WrittenPart], *, stem: str
    ) -> None:
        """The file, from the stretches in order."""


def headers(plan: ExportPlan) -> list[str]:
    return [c.title for c in plan.columns]


def widths(plan: ExportPlan) -> list[float]:
    return [min(max(len(c.title) * 1.1 + 2, _WIDTHS.get(c.kind, 8.43)), 60.0) for c in plan.columns]


def sheet_name(plan: ExportPlan) -> str:
    if plan.kind == "task":
        return "Tasks"
    return safe_sheet_name(plan.name, "Data")
