"""JSON (a top-level array of objects) and NDJSON (one object per line), streamed.

The headers are the keys in order of first appearance over the whole file, so the file
is read twice: once for the keys, once for the rows. Both passes hold one object at a
time (plus a read-ahead block), never the document.
"""

from __future__ import annotations

import codecs
import io
import json
import pathlib
import re
from collections.abc import Iterator
from typing import Any

from loadbay.tabular.nesting import deeper_than, too_deep
from loadbay.tabular.table import (
    Cell,
    JsonText,
    Limits,
    RawRows,
    Table,
    TableError,
    build_table,
    cell_too_long,
    is_blank,
)

BLOCK_CHARS = 1 << 20
_SPACE = re.compile(r"[ \t\n\r]*")

Objects = Iterator[tuple[int, dict[str, Any]]]


def open_json(path: pathlib.Path, fmt: str, *, limits: Limits) -> Table:
    encoding = _encoding(path)
    read = _array if fmt == "json" else _lines
    index: dict[str, int] = {}
    depth = limits.max_json_depth
    for number, obj in read(path, encoding, limits):
        for key, value in obj.items():
            if isinstance(value, dict | list) and deeper_than(value, depth - 1):
                raise _too_deep(number, depth)
            if key not in index:
                index[key] = len(index)
                if len(index) > limits.max_columns:
                    raise TableError(
                        "import-040", f"File has more than {limits.max_columns} columns"
                    )
    headers = [key.strip() for key in index]

    def raw() -> RawRows:
        return _rows(read(path, encoding, limits), index, limits)

    return build_table(fmt, raw, has_header_row=True, limits=limits, headers=headers)


def _encoding(path: pathlib.Path) -> str:
    with path.open("rb") as f:
        head = f.read(4)
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return "utf-8-sig"


def _rows(objects: Objects, index: dict[str, int], limits: Limits) -> RawRows:
    width = len(index)
    max_chars = limits.max_cell_chars
    dumps = json.dumps
    for number, obj in objects:
        cells: list[Cell] = [None] * width
        for key, value in obj.items():
            col = index[key]
            if value.__class__ is str:
                if not value:
                    continue
            elif isinstance(value, dict | list):
                value = JsonText(dumps(value, separators=(",", ":"), ensure_ascii=False))
            else:
                cells[col] = value
                continue
            if len(value) > max_chars:
                raise cell_too_long(number, col, limits)
            cells[col] = value
        if not is_blank(cells):
            yield number, cells


def _array(path: pathlib.Path, encoding: str, limits: Limits) -> Objects:
    """Objects of a top-level array, decoded one at a time with `raw_decode`."""
    raw_decode = json.JSONDecoder().raw_decode
    cap = limits.max_columns * (limits.max_cell_chars + 64) * 2
    with _text(path, encoding) as text:
        buf, eof = _refill(text, "", 0)
        pos = _skip(buf, 0)
        if buf[pos : pos + 1] != "[":
            raise TableError("import-015", "The JSON file is not an array of objects")
        pos += 1
        number = 1
        after_comma = False
        while True:
            pos = _skip(buf, pos)
            while pos == len(buf) and not eof:
                buf, eof = _refill(text, buf[pos:], 0)
                pos = _skip(buf, 0)
            char = buf[pos : pos + 1]
            if char == "]" and not after_comma:
                break
            if number > 1 and not after_comma:
                if char != ",":
                    raise _bad(number + 1, "expected ',' or ']'")
                pos += 1
                after_comma = True
                continue
            number += 1
            while True:
                try:
                    obj, pos = raw_decode(buf, pos)
                    break
                except RecursionError:
                    raise _too_deep(number, limits.max_json_depth) from None
                except json.JSONDecodeError as exc:
                    # Usually the object runs past the block: read on, up to the cap.
                    if eof or len(buf) - pos > cap:
                        raise _bad(number, exc.msg) from None
                    buf, eof = _refill(text, buf[pos:], len(buf) - pos)
                    pos = 0
            if not isinstance(obj, dict):
                raise _bad(number, "expected a JSON object")
            yield number, obj
            after_comma = False
        rest = buf[pos + 1 :]
        while rest or not eof:
            if rest.strip(" \t\n\r"):
                raise TableError("import-015", "Unexpected data after the JSON array")
            rest, eof = _refill(text, "", 0)
            if not rest:
                break


def _skip(buf: str, pos: int) -> int:
    match = _SPACE.match(buf, pos)
    return match.end() if match else pos


def _refill(text: io.TextIOWrapper, keep: str, want: int) -> tuple[str, bool]:
    try:
        chunk = text.read(max(want, BLOCK_CHARS))
    except UnicodeDecodeError:
        raise TableError("import-015", "The file is not valid UTF-8 text") from None
    return keep + chunk, not chunk


def _lines(path: pathlib.Path, encoding: str, limits: Limits) -> Objects:
    loads = json.loads
    cap = limits.max_columns * (limits.max_cell_chars + 64) * 2
    with _text(path, encoding) as text:
        number = 1
        while True:
            try:
                line = text.readline(cap)
            except UnicodeDecodeError:
                raise TableError("import-015", "The file is not valid UTF-8 text") from None
            if not line:
                break
            number += 1
            if len(line) >= cap and line[-1] not in "\r\n":
                raise TableError("import-040", f"Row {number}: the line is too long")
            if line.isspace():
                continue
            try:
                obj = loads(line)
            except RecursionError:
                raise _too_deep(number, limits.max_json_depth) from None
            except json.JSONDecodeError as exc:
                raise _bad(number, exc.msg) from None
            if not isinstance(obj, dict):
                raise _bad(number, "expected a JSON object")
            yield number, obj


def _text(path: pathlib.Path, encoding: str) -> io.TextIOWrapper:
    return io.TextIOWrapper(path.open("rb"), encoding=encoding, newline="")


def _too_deep(number: int, limit: int) -> TableError:
    return TableError("import-015", f"Row {number}: {too_deep(limit)}")


def _bad(number: int, why: str) -> TableError:
    return TableError("import-015", f"Row {number}: invalid JSON ({why})")
