"""The rows of an export: read by keyset in batches, each turned into its cells by one
compiled function (the hot loop of every export), and counted."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from loadbay.db import Database
from loadbay.exports import queries
from loadbay.exports.formats import format_of
from loadbay.exports.plan import ExportPlan
from loadbay.tabular.csv_writer import csv_text
from loadbay.tabular.formula import FORMULA_STARTS, escape_formula

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Written:
    total: int
    last_id: str | None
    # Parallel exports: each worker process's peak memory (MB) and CPU time (s), so a
    # benchmark can account for every process.
    workers: tuple[tuple[float, float], ...] = ()


def row_builder(
    plan: ExportPlan, index: dict[str, int], names: dict[str, dict[str, str]]
) -> Callable[[tuple[Any, ...]], Any]:
    """One compiled function from a row to its cells (a dict of field ids for JSON, the
    fields' text for CSV).

    The hot loop of every export: one call a row instead of one or two a cell. The
    generated source holds only positions and local names; field ids, converters and
    name tables are passed in as tuples, never written into the code.
    """
    fmt = format_of(plan.download)
    keys = tuple(c.id for c in plan.columns)
    convs = tuple(fmt.converter(c.kind) for c in plan.columns)
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
        cells.append(fmt.cell_source(j, column, convs[j], value))
    if fmt.records:
        body = ", ".join(f"_K[{j}]: {cell}" for j, cell in enumerate(cells))
        lines.append(f"    return {{{body}}}")
    else:
        lines.append(f"    return [{', '.join(cells)}]")
    namespace: dict[str, Any] = {
        "_loads": orjson.loads, "_fromiso": datetime.fromisoformat, "_EMPTY": {},
        "_K": keys, "_C": convs, "_N": tables, "_CT": csv_text, "_FS": FORMULA_STARTS, "_ESC": escape_formula,
        "_repr": repr,
    }  # fmt: skip
    exec(compile("\n".join(lines), "<export row>", "exec"), namespace)  # noqa: S102
    build: Callable[[tuple[Any, ...]], Any] = namespace["build"]
    return build


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
