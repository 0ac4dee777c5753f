"""CSV and TSV: the stdlib csv module over a decoded stream, one record at a time."""

from __future__ import annotations

import csv
import io
import pathlib
from collections.abc import Iterator
from typing import Any

from loadbay.tabular.formula import unescape_formula
from loadbay.tabular.sniff import SAMPLE_BYTES, detect_encoding, sniff_delimiter
from loadbay.tabular.table import (
    Limits,
    RawRows,
    Table,
    TableError,
    build_table,
    cell_too_long,
)


def open_csv(
    path: pathlib.Path,
    fmt: str,
    *,
    has_header_row: bool,
    limits: Limits,
    header_row: int | None = None,
) -> Table:
    encoding = detect_encoding(path)
    delimiter = "\t" if fmt == "tsv" else _delimiter(path, encoding)
    # The csv module's own cap only guards against a runaway quoted field; values over
    # max_cell_chars but under this cap get the friendlier message naming their column.
    needed = limits.max_cell_chars * 4 + 1024
    if csv.field_size_limit() < needed:
        csv.field_size_limit(needed)

    def raw() -> RawRows:
        return _records(path, encoding, delimiter, limits)

    return build_table(
        fmt, raw, has_header_row=has_header_row, limits=limits, header_row=header_row
    )


def _delimiter(path: pathlib.Path, encoding: str) -> str:
    with path.open("rb") as f:
        head = f.read(SAMPLE_BYTES)
        complete = not f.read(1)
    return sniff_delimiter(head.decode(encoding, errors="ignore"), complete)


def _records(path: pathlib.Path, encoding: str, delimiter: str, limits: Limits) -> RawRows:
    max_chars = limits.max_cell_chars
    number = 0
    with path.open("rb") as binary:
        text = io.TextIOWrapper(binary, encoding=encoding, newline="")
        try:
            reader: Iterator[list[Any]] = csv.reader(text, delimiter=delimiter)
            for row in reader:
                number += 1
                # One join answers three questions per record at C speed: is it blank,
                # can any cell be too long, can any cell carry the export's `'` escape.
                joined = "".join(row)
                if not joined or joined.isspace():
                    continue
                if len(joined) > max_chars:
                    for col, value in enumerate(row):
                        if len(value) > max_chars:
                            raise cell_too_long(number, col, limits)
                if "'" in joined:
                    # loadbay's CSV output escapes formula-looking text with one `'`
                    # (tabular/formula.py); exactly that one comes off again.
                    for col, value in enumerate(row):
                        if value[:1] == "'":
                            row[col] = unescape_formula(value)
                if "" in row:
                    yield number, [value or None for value in row]
                else:
                    yield number, row
        except csv.Error as exc:
            if "field limit" in str(exc):
                raise TableError(
                    "import-040",
                    f"Row {number + 1}: a value is longer than {max_chars} characters",
                ) from None
            raise TableError("import-015", f"Row {number + 1}: {_csv_problem(exc)}") from None
        except UnicodeDecodeError:
            raise TableError(
                "import-015", f"Row {number + 1}: the file is not valid {encoding} text"
            ) from None


def _csv_problem(exc: csv.Error) -> str:
    """The csv module's complaint in a user's words (its own text names its API)."""
    text = str(exc)
    if "new-line character" in text:
        return "malformed CSV: a line break inside an unquoted value (a stray carriage return?)"
    if "end of data" in text or "EOF" in text:
        return "malformed CSV: a quoted value is not closed before the file ends"
    return "malformed CSV: a value is quoted wrongly"
