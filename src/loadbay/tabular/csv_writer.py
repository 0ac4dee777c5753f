"""Streaming CSV writer for exports and failed-rows files.

UTF-8 with a BOM and CRLF line ends, because that is what Excel needs to open
a CSV with non-ASCII text correctly on a double click. Text that a
spreadsheet would run as a formula gets one leading `'` (OWASP CSV injection);
the importer strips exactly that one `'` again, so an export re-imports to the
same values (DECISIONS.md, Exports). Only text is escaped: the number -5 is
written as -5, the text "-5" as '-5.

Output is byte-for-byte what `csv.writer` (QUOTE_MINIMAL) writes, but most
rows never go through it: a row's fields are joined directly, and only a row
whose joined line shows something to quote (a quote, CR, LF, or more
delimiters than fields) is handed to the csv module. That halves the cost.
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


def _other_text(v: object) -> str:
    """Cells off the fast path (time, Decimal, subclasses) as text."""
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
        return str(int(v))
    if isinstance(v, float):
        return repr(float(v))
    raise TypeError(f"cannot write a {type(v).__name__} to CSV")


def csv_fields(row: Sequence[Cell]) -> list[str]:
    """One row's cells as CSV text, before quoting.

    Integers as they are, floats by repr, None as empty, booleans true/false,
    dates ISO. Datetimes ISO with a space: microseconds only when there are
    any, the offset of an aware value; nothing dropped, nothing shifted.
    """
    cells: Sequence[Any] = row  # narrowed by type() below, which mypy cannot follow
    return [
        ("'" + v if v[:1] in _FORMULA_STARTS else v)
        if (t := type(v)) is str
        else repr(v)
        if t is int or t is float
        else ""
        if v is None
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
        self._delimiter = delimiter
        self._lines: list[str] = []
        self._quoted = io.StringIO()
        self._csv = csv.writer(
            self._quoted, delimiter=delimiter, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL
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
        lines, append, delimiter = self._lines, self._lines.append, self._delimiter
        join = delimiter.join
        for row in rows:
            fields = csv_fields(row)
            line = join(fields)
            if (
                line
                and line.count(delimiter) == len(fields) - 1
                and '"' not in line
                and "\n" not in line
                and "\r" not in line
            ):
                append(line)
            else:
                append(self._quote(fields))
            if len(lines) == _BLOCK_ROWS:
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

    def _quote(self, fields: list[str]) -> str:
        """The csv module's line for a row that needs quoting (or is a lone empty field)."""
        self._csv.writerow(fields)
        line = self._quoted.getvalue()[:-2]
        self._quoted.seek(0)
        self._quoted.truncate()
        return line

    def _flush(self) -> None:
        if self._lines:
            self._lines.append("")  # the last line's CRLF
            # strict UTF-8: a lone surrogate is an error, not a silently changed byte
            self._raw.write("\r\n".join(self._lines).encode("utf-8"))
            self._lines.clear()
