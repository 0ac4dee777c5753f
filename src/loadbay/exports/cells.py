"""Stored values to cells: the converters each format picks per field kind, and the
source of each cell's expression in the compiled row builder (`loadbay.exports.rows`).

Stored values keep the types the importer gave them: numbers are numbers, a
date is `YYYY-MM-DD`, a datetime ISO text (with its offset when it had one).
XLSX gets real dates back (a datetime with an offset stays text: a serial
number has no zone); CSV and JSON get the stored text, so a file re-imports to
the same values. Database times are naive UTC, written `Y-m-d H:i:s` as text.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import orjson

from loadbay.exports.plan import Column

Convert = Callable[[Any], Any]


def _slow_text(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    return str(value)


def text(value: Any) -> Any:
    """A text field: text as written (leading zeros kept); anything else as its text."""
    return value if type(value) is str else _slow_text(value)


def number(value: Any) -> Any:
    t = type(value)
    if t is int or t is float or value is None:
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
        try:
            return float(value)
        except ValueError:
            return value
    return _slow_text(value)


def boolean(value: Any) -> Any:
    return value if value is None or type(value) is bool else _slow_text(value)


def xlsx_date(value: Any) -> Any:
    if type(value) is str:
        try:
            return date.fromisoformat(value)
        except ValueError:
            return value
    return _slow_text(value)


def xlsx_datetime(value: Any) -> Any:
    if type(value) is str:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return value
        return value if parsed.tzinfo is not None else parsed
    return _slow_text(value)


def timestamp_text(value: Any) -> Any:
    """A database time as `Y-m-d H:i:s` (SQLite hands over its stored text, PostgreSQL a
    datetime)."""
    if value is None:
        return None
    return value[:19] if type(value) is str else value.isoformat(" ")[:19]


def xlsx_timestamp(value: Any) -> Any:
    return datetime.fromisoformat(value) if type(value) is str else value


# Values that need no conversion, tested inline: a call per cell is most of the cost.
_PASS = {
    text: "{v}.__class__ is str",
    number: "{v}.__class__ is float or {v}.__class__ is int",
    boolean: "{v}.__class__ is bool",
}


def cell_source(j: int, column: Column, convert: Convert | None, value: str) -> str:
    """The source of one cell's expression; `value` reads it from the row."""
    v = f"v{j}"
    if convert is None or (convert is text and column.source != "data"):
        return value  # database text columns hold text already
    if convert is timestamp_text:
        return f"({v}[:19] if ({v} := {value}).__class__ is str else _C[{j}]({v}))"
    if convert is xlsx_timestamp:
        return f"(_fromiso({v}) if ({v} := {value}).__class__ is str else {v})"
    if convert in _PASS:
        test = _PASS[convert].format(v=v)
        return f"({v} if ({v} := {value}) is None or {test} else _C[{j}]({v}))"
    return f"_C[{j}]({value})"


def csv_cell_source(j: int, column: Column, convert: Convert | None, value: str) -> str:
    """The source of one CSV field: the cell's text as `csv_fields` makes it, with the
    common types tested inline (a call per field was a third of a CSV export's time)."""
    v = f"v{j}"
    converted = f"_CT(_C[{j}]({v}))" if convert is not None else f"_CT({v})"
    escaped = f"(_ESC({v}) if {v}[:1] in _FS else {v})"
    if convert is number:
        return (
            f"(_repr({v}) if ({v} := {value}).__class__ is float or {v}.__class__ is int"
            f' else "" if {v} is None else {converted})'
        )
    if convert is boolean:
        return (
            f'(("true" if {v} else "false") if ({v} := {value}).__class__ is bool'
            f' else "" if {v} is None else {converted})'
        )
    if convert is timestamp_text:
        return f'({v}[:19] if ({v} := {value}).__class__ is str else "" if {v} is None else {converted})'
    # text: stored text as it is (escaped), anything else through the converter
    return (
        f'({escaped} if ({v} := {value}).__class__ is str else "" if {v} is None else {converted})'
    )
