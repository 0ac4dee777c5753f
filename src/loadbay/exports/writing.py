"""From database rows to a file: typed cells per format, streamed through a writer.

Stored values keep the types the importer gave them: numbers are numbers, a
date is `YYYY-MM-DD`, a datetime ISO text (with its offset when it had one).
XLSX gets real dates back (a datetime with an offset stays text: a serial
number has no zone); CSV and JSON get the stored text, so a file re-imports to
the same values. Database times are naive UTC, written `Y-m-d H:i:s` as text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, BinaryIO

import orjson
from sqlalchemy.engine import Row

from loadbay.db import Database
from loadbay.exports import queries
from loadbay.exports.plan import Column, ExportPlan
from loadbay.exports.schemas import unix
from loadbay.settings import get_settings
from loadbay.tabular.csv_writer import CsvWriter
from loadbay.tabular.jsonzip_writer import JsonZipWriter
from loadbay.tabular.xlsx_writer import XlsxWriter

Getter = Callable[[Row[Any]], Any]
Convert = Callable[[Any], Any]
Progress = Callable[[int], None]

_TEXT_KINDS = frozenset({"string", "option", "email", "phone", "coordinate"})
_SHEET_BAD = re.compile(r"[\\/?*\[\]:\x00-\x1f]")
_WIDTHS = {"timestamp": 20.0, "datetime": 20.0, "date": 12.0}


@dataclass(frozen=True)
class Written:
    total: int
    last_id: str | None


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


def timestamp_text(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(" ")[:19]


def converter(fmt: str, kind: str) -> Convert | None:
    """What turns a stored value of `kind` into a cell of `fmt`; None: the value as it is."""
    if fmt == "json":
        return timestamp_text if kind == "timestamp" else None
    if kind == "timestamp":
        return None if fmt == "xlsx" else timestamp_text
    if kind in ("number", "integer"):
        return number
    if kind == "boolean":
        return boolean
    if fmt == "xlsx" and kind == "date":
        return xlsx_date
    if fmt == "xlsx" and kind == "datetime":
        return xlsx_datetime
    return text


def _getter(
    column: Column, fmt: str, index: dict[str, int], names: dict[str, dict[str, str]]
) -> Getter:
    convert = converter(fmt, column.kind)
    if column.source == "data":
        position, key = index["data"], column.id
        if convert is None:
            return lambda row: (row[position] or {}).get(key)
        return lambda row: convert((row[position] or {}).get(key))
    if column.source in ("hub", "flow"):
        position = index[f"{column.source}_id"]
        table = names[column.source]
        return lambda row: table.get(row[position])
    position = index[column.source]
    if convert is None or column.kind in _TEXT_KINDS:  # database text columns hold text
        return lambda row: row[position]
    return lambda row: convert(row[position])


def row_builder(
    plan: ExportPlan, index: dict[str, int], names: dict[str, dict[str, str]]
) -> Callable[[Row[Any]], list[Any]]:
    getters = [_getter(c, plan.download, index, names) for c in plan.columns]
    return lambda row: [get(row) for get in getters]


def sheet_name(plan: ExportPlan) -> str:
    if plan.kind == "task":
        return "Tasks"
    name = _SHEET_BAD.sub(" ", plan.name).strip().strip("'")[:31].strip()
    return name if name and name.casefold() != "history" else "Data"


def file_stem(plan: ExportPlan, requested: datetime) -> str:
    return f"{plan.kind}_{plan.org}_{unix(requested)}"


def write_export(
    db: Database,
    plan: ExportPlan,
    target: BinaryIO,
    *,
    stem: str = "export",
    progress: Progress | None = None,
) -> Written:
    """Stream the plan's rows into `target` in the plan's format."""
    hub_names, flow_names = queries.names(db, plan)
    chosen = queries.selection(plan, db.engine.dialect.name)
    build = row_builder(plan, chosen.index, {"hub": hub_names, "flow": flow_names})
    state: dict[str, Any] = {"total": 0, "last_id": None}

    def rows() -> Iterator[list[Any]]:
        for batch in queries.stream(db, plan, chosen):
            yield from map(build, batch)
            state["total"] += len(batch)
            state["last_id"] = batch[-1][0]
            if progress is not None:
                progress(len(batch))

    headers = [c.title for c in plan.columns]
    if plan.download == "xlsx":
        widths = [
            min(max(len(c.title) * 1.1 + 2, _WIDTHS.get(c.kind, 8.43)), 60.0) for c in plan.columns
        ]
        with XlsxWriter(target) as xlsx:
            xlsx.add_sheet(sheet_name(plan), headers, widths=widths or None)
            xlsx.write_rows(rows())
    elif plan.download == "csv":
        with CsvWriter(target) as csv:
            csv.write_header(headers)
            csv.write_rows(rows())
    else:
        ids = [c.id for c in plan.columns]
        with JsonZipWriter(target, base_name=stem, part_rows=_part_rows()) as archive:
            archive.write_records(dict(zip(ids, row, strict=True)) for row in rows())
    return Written(int(state["total"]), state["last_id"])


def _part_rows() -> int:
    return get_settings().json_export_part_rows
