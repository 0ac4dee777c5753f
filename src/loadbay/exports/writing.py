"""From database rows to a file: typed cells per format, streamed through a writer.

Stored values keep the types the importer gave them: numbers are numbers, a
date is `YYYY-MM-DD`, a datetime ISO text (with its offset when it had one).
XLSX gets real dates back (a datetime with an offset stays text: a serial
number has no zone); CSV and JSON get the stored text, so a file re-imports to
the same values. Database times are naive UTC, written `Y-m-d H:i:s` as text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, BinaryIO

import orjson

from loadbay.db import Database
from loadbay.exports import queries
from loadbay.exports.plan import Column, ExportPlan
from loadbay.exports.schemas import unix
from loadbay.gcpause import paused_gc
from loadbay.settings import get_settings
from loadbay.tabular.csv_writer import CsvWriter, csv_text
from loadbay.tabular.formula import FORMULA_STARTS, escape_formula
from loadbay.tabular.jsonzip_writer import JsonZipWriter
from loadbay.tabular.xlsx_writer import XlsxWriter, safe_sheet_name

Convert = Callable[[Any], Any]
Progress = Callable[[int], None]

_WIDTHS = {"timestamp": 20.0, "datetime": 20.0, "date": 12.0}


@dataclass(frozen=True)
class Written:
    total: int
    last_id: str | None
    # Parallel exports: each worker process's peak memory (MB) and CPU time (s), so a
    # benchmark can account for every process.
    workers: tuple[tuple[float, float], ...] = ()


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


def converter(fmt: str, kind: str) -> Convert | None:
    """What turns a stored value of `kind` into a cell of `fmt`; None: the value as it is."""
    if kind == "timestamp":
        return xlsx_timestamp if fmt == "xlsx" else timestamp_text
    if fmt == "json":
        return None
    if kind in ("number", "integer"):
        return number
    if kind == "boolean":
        return boolean
    if fmt == "xlsx" and kind == "date":
        return xlsx_date
    if fmt == "xlsx" and kind == "datetime":
        return xlsx_datetime
    return text


# Values that need no conversion, tested inline: a call per cell is most of the cost.
_PASS = {
    text: "{v}.__class__ is str",
    number: "{v}.__class__ is float or {v}.__class__ is int",
    boolean: "{v}.__class__ is bool",
}


def _cell(j: int, column: Column, convert: Convert | None, value: str) -> str:
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


def _csv_cell(j: int, convert: Convert | None, value: str) -> str:
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


def row_builder(
    plan: ExportPlan, index: dict[str, int], names: dict[str, dict[str, str]]
) -> Callable[[tuple[Any, ...]], Any]:
    """One compiled function from a row to its cells (a dict of field ids for JSON, the
    fields' text for CSV).

    The hot loop of every export: one call a row instead of one or two a cell. The
    generated source holds only positions and local names; field ids, converters and
    name tables are passed in as tuples, never written into the code.
    """
    keys = tuple(c.id for c in plan.columns)
    convs = tuple(converter(plan.download, c.kind) for c in plan.columns)
    tables = tuple(names.get(c.source, {}) for c in plan.columns)
    lines = ["def build(row):"]
    if "data" in index:
        lines.append(f"    d = row[{index['data']}]")
        lines.append("    g = (_loads(d) if d else _EMPTY).get")
    cells = []
    for j, column in enumerate(plan.columns):
        if column.source == "data":
            value = f"g(_K[{j}])"
        elif column.source in ("hub", "flow"):
            value = f"_N[{j}].get(row[{index[column.source + '_id']}])"
        else:
            value = f"row[{index[column.source]}]"
        if plan.download == "csv":
            cells.append(_csv_cell(j, convs[j], value))
        else:
            cells.append(_cell(j, column, convs[j], value))
    if plan.download == "json":
        body = ", ".join(f"_K[{j}]: {cell}" for j, cell in enumerate(cells))
        lines.append(f"    return {{{body}}}")
    else:
        lines.append(f"    return [{', '.join(cells)}]")
    namespace: dict[str, Any] = {
        "_loads": orjson.loads, "_fromiso": datetime.fromisoformat, "_EMPTY": {},
        "_K": keys, "_C": convs, "_N": tables, "_CT": csv_text,
        "_FS": FORMULA_STARTS, "_ESC": escape_formula, "_repr": repr,
    }  # fmt: skip
    exec(compile("\n".join(lines), "<export row>", "exec"), namespace)  # noqa: S102
    build: Callable[[tuple[Any, ...]], Any] = namespace["build"]
    return build


def sheet_name(plan: ExportPlan) -> str:
    if plan.kind == "task":
        return "Tasks"
    return safe_sheet_name(plan.name, "Data")


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
    """Stream the plan's rows into `target` in the plan's format.

    A big export is cut into stretches written side by side by worker processes
    (`loadbay.exports.parallel`); the file is the same either way."""
    from loadbay.exports import parallel

    with paused_gc():  # decoded rows are short-lived and acyclic (see loadbay.gcpause)
        split = parallel.split(db, plan)
        if split is not None:
            return parallel.write_parallel(db, plan, target, split, stem=stem, progress=progress)
        return write_single(db, plan, target, stem=stem, progress=progress)


class RowSource:
    """The plan's rows (or a window of them) as cells, or records for JSON, counted."""

    def __init__(
        self,
        db: Database,
        plan: ExportPlan,
        window: queries.Window | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.db, self.plan, self.window, self.progress = db, plan, window, progress
        self.total = 0
        self.last_id: str | None = None
        self.last_keys: tuple[Any, ...] | None = None  # the sort keys of the last row

    def __iter__(self) -> Iterator[Any]:
        hub_names, flow_names = queries.names(self.db, self.plan)
        chosen = queries.selection(self.plan, self.db.engine.dialect.name)
        build = row_builder(self.plan, chosen.index, {"hub": hub_names, "flow": flow_names})
        stream = queries.stream(self.db, self.plan, chosen, window=self.window)
        n_keys = len(chosen.keys)
        for batch in queries.read_ahead(stream):
            yield from map(build, batch)
            self.total += len(batch)
            self.last_id = batch[-1][0]
            self.last_keys = tuple(batch[-1][-n_keys:])
            if self.progress is not None:
                self.progress(len(batch))


def headers(plan: ExportPlan) -> list[str]:
    return [c.title for c in plan.columns]


def widths(plan: ExportPlan) -> list[float]:
    return [min(max(len(c.title) * 1.1 + 2, _WIDTHS.get(c.kind, 8.43)), 60.0) for c in plan.columns]


def write_single(
    db: Database,
    plan: ExportPlan,
    target: BinaryIO,
    *,
    stem: str,
    progress: Progress | None = None,
) -> Written:
    """The export written by this process alone."""
    rows = RowSource(db, plan, progress=progress)
    if plan.download == "xlsx":
        with XlsxWriter(target) as xlsx:
            xlsx.add_sheet(sheet_name(plan), headers(plan), widths=widths(plan) or None)
            xlsx.write_rows(rows)
    elif plan.download == "csv":
        with CsvWriter(target) as csv:
            csv.write_header(headers(plan))
            csv.write_fields(rows)  # the row builder made the fields' text
    else:
        with JsonZipWriter(target, base_name=stem, part_rows=_part_rows()) as archive:
            archive.write_records(rows)
    return Written(rows.total, rows.last_id)


def _part_rows() -> int:
    return get_settings().json_export_part_rows
