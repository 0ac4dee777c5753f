"""Streaming CSV writer for exports and failed-rows files.

UTF-8 with a BOM and CRLF line ends, because that is what Excel needs to open
a CSV with non-ASCII text correctly on a double click. Text that a
spreadsheet would run as a formula gets one leading `'` (OWASP CSV injection);
the importer strips exactly that one `'` again, so an export re-imports to the
same values (DECISIONS.md, Exports). Only text is escaped: the number -5 is
written as -5, the text "-5" as '-5.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, BinaryIO, Self

if TYPE_CHECKING:
    from loadbay.tabular.writers import Cell

_FORMULA_STARTS = frozenset("=+-@\t\r")  # a frozenset: "" must not match
_BLOCK_ROWS = 1_000


def _other_text(v: object) -> object:
    """Cells off the fast path (time, Decimal, subclasses): what the csv module should write."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dt.datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, dt.date | dt.time):
        return v.isoformat()
    if isinstance(v, Decimal):
        return format(v, "f") if v.is_finite() else str(v)  # never "1E+2"
    if isinstance(v, str):
        return "'" + v if v[:1] in _FORMULA_STARTS else str(v)
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        return float(v)
    raise TypeError(f"cannot write a {type(v).__name__} to CSV")


def csv_text(row: Sequence[Cell]) -> list[Any]:
    """One row as the csv module should write it: escaped text, formatted values.

    The csv module itself writes str(int), repr(float) and "" for None.
    Datetimes: isoformat keeps microseconds only when there are any, and the
    offset of an aware value, so nothing is dropped and nothing is shifted.
    """
    cells: Sequence[Any] = row  # narrowed by type() below, which mypy cannot follow
    return [
        ("'" + v if v[:1] in _FORMULA_STARTS else v)
        if (t := type(v)) is str
        else v
        if t is int or t is float or v is None
        else ("true" if v else "false")
        if t is bool
        else v.isoformat()
        if t is dt.date
        else v.isoformat(" ")
        if t is dt.datetime
        else _other_text(v)
        for v in cells
    ]


class CsvWriter:
    """`write_header`, then `write_row`/`write_rows`, then `close` (or use `with`)."""

    def __init__(
        self,
        target: str | os.PathLike[str] | BinaryIO,
        *,
        bom: bool = True,
        delimiter: str = ",",
    ) -> None:
        self._owns = isinstance(target, str | os.PathLike)
        raw: BinaryIO = open(target, "wb") if isinstance(target, str | os.PathLike) else target  # noqa: SIM115
        self._raw = raw
        self._closed = False
        # Rows are formatted into a StringIO block and encoded at once: one
        # write to the target per block instead of one per row.
        self._block = io.StringIO()
        self._csv = csv.writer(
            self._block, delimiter=delimiter, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL
        )
        if bom:
            raw.write("\ufeff".encode())

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def write_header(self, headers: list[str]) -> None:
        self.write_row(headers)

    def write_row(self, cells: Sequence[Cell]) -> None:
        self.write_rows((cells,))

    def write_rows(self, rows: Iterable[Sequence[Cell]]) -> None:
        if self._closed:
            raise RuntimeError("the CSV writer is closed")
        writerow, n = self._csv.writerow, 0
        for row in rows:
            writerow(csv_text(row))
            n += 1
            if n == _BLOCK_ROWS:
                self._flush()
                n = 0
        self._flush()

    def close(self) -> None:
        if self._closed:
            return
        self._flush()
        self._closed = True
        if self._owns:
            self._raw.close()
        else:
            self._raw.flush()

    def abort(self) -> None:
        """Stop after an error; closes a file we opened, leaves a caller's stream open."""
        self._closed = True
        if self._owns:
            self._raw.close()

    def _flush(self) -> None:
        text = self._block.getvalue()
        if text:
            # strict UTF-8: a lone surrogate is an error, not a silently changed byte
            self._raw.write(text.encode("utf-8"))
            self._block.seek(0)
            self._block.truncate()
