"""The exports' SQL: the filtered, ordered row stream and the export-log queries.

Rows are read by keyset pagination, one short read transaction per batch: the
sort key and `_id` of the last row written are the cursor of the next batch.
SQLite then never holds a read snapshot for the length of an export (which
would stop the WAL from being checkpointed), and no batch pays for an OFFSET.
Nullable sort keys are ordered as (is-null flag, coalesced value), so every key
compared is non-null and NULLs come last in either direction.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loadbay.catalog.models import Flow, Hub, Record, Task
from loadbay.db import Database, table_of
from loadbay.exports.plan import NOT_NULL, Column, ExportPlan

BATCH_ROWS = 5_000
T = TypeVar("T")

tasks = table_of(Task)
records = table_of(Record)
hubs = table_of(Hub)
flows = table_of(Flow)

_NUMERIC = ("number", "integer")


@dataclass(frozen=True)
class SortKey:
    expr: sa.ColumnElement[Any]
    descending: bool


@dataclass(frozen=True)
class Selection:
    """The statement a plan streams, and where each source sits in its rows."""

    statement: sa.Select[Any]
    index: dict[str, int]  # source ("id", "data", "flow_id", …) → position in a row
    keys: tuple[SortKey, ...]
    # The sort keys alone, in the same order, for finding where to cut an export. A data
    # type's records are found by the type alone (the plan checked it is the caller's), so
    # SQLite walks the index without a table lookup a row.
    keys_only: sa.Select[Any]


def table_for(plan: ExportPlan) -> sa.Table:
    return tasks if plan.kind == "task" else records


def filters(plan: ExportPlan) -> list[sa.ColumnElement[bool]]:
    table = table_for(plan)
    where: list[sa.ColumnElement[bool]] = [table.c.organization_id == plan.org]
    if plan.hub_id is not None:
        where.append(table.c.hub_id == plan.hub_id)
    if plan.kind == "data":
        if plan.data_type_id is not None:
            where.append(table.c.data_type_id == plan.data_type_id)
        return where
    if plan.flow_ids is not None:
        where.append(table.c.flow_id.in_(plan.flow_ids) if plan.flow_ids else sa.false())
    if plan.statuses:
        where.append(table.c.status.in_(plan.statuses))
    if plan.done_by is not None:
        where.append(sa.func.lower(table.c.done_by) == plan.done_by.lower())
    if plan.assignee is not None:
        where.append(sa.func.lower(table.c.assignee) == plan.assignee.lower())
    return where


def _matches(plan: ExportPlan) -> sa.Select[Any]:
    return sa.select(sa.func.count()).select_from(table_for(plan)).where(*filters(plan))


def count(db: Database, plan: ExportPlan) -> int:
    """How many rows match the filters (before the window)."""
    with db.read() as session:
        return int(session.scalar(_matches(plan)) or 0)


def window_rows(matches: int, plan: ExportPlan) -> int:
    """How many rows the export writes: every match, or the page's window of them."""
    if plan.limit is None:
        return matches
    return max(0, min(plan.limit, matches - plan.offset))


def _json_value(table: sa.Table, column: Column, dialect: str) -> sa.ColumnElement[Any]:
    if dialect != "postgresql":
        # JSON_EXTRACT gives each value its own type back: numbers compare as numbers, and
        # the value read back binds as the same type for the next batch's keyset.
        path = '$."' + column.id.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return sa.func.json_extract(table.c.data, path, type_=sa.types.NullType())
    element: Any = table.c.data[column.id]
    if column.kind in _NUMERIC:
        # A value that is not a number (an old row of another type) sorts with the NULLs
        # instead of failing the cast.
        return sa.case(
            (sa.func.jsonb_typeof(element) == "number", element.as_float()),
            else_=sa.null(),
        )
    as_text: sa.ColumnElement[Any] = element.as_string()
    return as_text


def _sort_keys(plan: ExportPlan, dialect: str) -> tuple[tuple[SortKey, ...], sa.FromClause]:
    table = table_for(plan)
    source: sa.FromClause = table
    column = plan.sort
    desc = plan.descending
    nullable = True
    expr: sa.ColumnElement[Any]
    if column.source == "hub":
        source = table.outerjoin(hubs, hubs.c.id == table.c.hub_id)
        expr = hubs.c.name
    elif column.source == "flow":
        source = table.outerjoin(flows, flows.c.id == table.c.flow_id)
        expr = flows.c.name
    elif column.source == "data":
        expr = _json_value(table, column, dialect)
    else:
        expr = table.c[column.source]
        nullable = column.source not in NOT_NULL
    id_key = SortKey(table.c.id, desc)
    if column.source == "id":
        return (id_key,), source
    if not nullable:
        return (SortKey(_raw(expr), desc), id_key), source
    empty: Any = 0 if column.kind in _NUMERIC and column.source == "data" else ""
    if column.kind == "timestamp":
        empty = sa.literal(datetime(1970, 1, 1), sa.DateTime())
    flag = sa.case((expr.is_(None), 1), else_=0)
    value = _raw(sa.func.coalesce(expr, empty))
    return (SortKey(flag, False), SortKey(value, desc), id_key), source


def _raw(expr: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """The value as the driver gives it, and bound back as it is: no SQLAlchemy type
    processing on the hot path (on SQLite a time stays its stored text, which compares
    right against the column; JSON is decoded once, by orjson)."""
    return sa.type_coerce(expr, sa.types.NullType())


def selection(plan: ExportPlan, dialect: str) -> Selection:
    table = table_for(plan)
    wanted = ["id"]
    for column in plan.columns:
        source = column.source
        if source == "hub":
            source = "hub_id"
        elif source == "flow":
            source = "flow_id"
        if source not in wanted:
            wanted.append(source)
    keys, from_ = _sort_keys(plan, dialect)
    selected: list[sa.ColumnElement[Any]] = [
        sa.cast(table.c.data, sa.Text()) if name == "data" else _raw(table.c[name])
        for name in wanted
    ]
    selected += [key.expr.label(f"k{i}") for i, key in enumerate(keys)]
    order = [key.expr.desc() if key.descending else key.expr.asc() for key in keys]
    statement = sa.select(*selected).select_from(from_).where(*filters(plan)).order_by(*order)
    where = filters(plan)
    if plan.kind == "data" and plan.data_type_id is not None:
        where = where[1:]  # filters() puts the organisation first
    keys_only = (
        sa.select(*[key.expr.label(f"k{i}") for i, key in enumerate(keys)])
        .select_from(from_)
        .where(*where)
        .order_by(*order)
    )
    return Selection(statement, {name: i for i, name in enumerate(wanted)}, keys, keys_only)


def _keyset(
    keys: Sequence[SortKey], values: Sequence[Any], *, after: bool
) -> sa.ColumnElement[bool]:
    """Rows strictly after `values` in the order of `keys` (`after`), or the rows at or
    before them (not `after`: where a window stops)."""
    branches = []
    for i, key in enumerate(keys):
        smaller = key.descending == after  # the step goes to smaller values
        step = key.expr < values[i] if smaller else key.expr > values[i]
        branches.append(sa.and_(*[keys[j].expr == values[j] for j in range(i)], step))
    if not after:
        branches.append(sa.and_(*[k.expr == v for k, v in zip(keys, values, strict=True)]))
    first = keys[0]
    # Redundant with the OR, but a plain range on the first key is what the planner can
    # turn into an index range scan.
    first_smaller = first.descending == after
    bound = first.expr <= values[0] if first_smaller else first.expr >= values[0]
    return sa.and_(bound, sa.or_(*branches))


@dataclass(frozen=True)
class Window:
    """A stretch of the ordered rows: after the cursor `start` (None: from the plan's
    offset), up to and including the cursor `stop` (None: to the end), at most `limit`."""

    start: tuple[Any, ...] | None = None
    stop: tuple[Any, ...] | None = None
    limit: int | None = None


def stream(
    db: Database,
    plan: ExportPlan,
    chosen: Selection,
    batch_rows: int | None = None,
    window: Window | None = None,
) -> Iterator[Sequence[tuple[Any, ...]]]:
    """The plan's rows in order, a batch at a time, each batch read in its own transaction."""
    batch_rows = batch_rows or BATCH_ROWS
    n_keys = len(chosen.keys)
    cursor: Sequence[Any] | None = None
    remaining = plan.limit
    statement = chosen.statement
    if window is not None:
        remaining = window.limit
        if window.stop is not None:
            statement = statement.where(_keyset(chosen.keys, window.stop, after=False))
        cursor = window.start
    if plan.offset and cursor is None:
        # The window's start is found once by OFFSET; from there on the keyset goes on.
        start = statement.offset(plan.offset - 1).limit(1)
        with db.read() as session:
            before = session.execute(start).first()
        if before is None:
            return
        cursor = tuple(before)[-n_keys:]
    while remaining is None or remaining > 0:
        size = batch_rows if remaining is None else min(batch_rows, remaining)
        query = statement
        if cursor is not None:
            query = query.where(_keyset(chosen.keys, cursor, after=True))
        with db.read() as session:
            rows = _fetch(session, query.limit(size))
        if not rows:
            return
        yield rows
        if remaining is not None:
            remaining -= len(rows)
        if len(rows) < size:
            return
        cursor = tuple(rows[-1])[-n_keys:]


def _fetch(session: Session, query: sa.Select[Any]) -> list[tuple[Any, ...]]:
    """The rows as the driver's own tuples: SQLAlchemy's result rows cost a microsecond a
    row here, and nothing in the statement needs its result processing (every selected
    value is raw, see `_raw`; JSON is decoded by the row builder). The statement itself
    is executed by SQLAlchemy as any other, so its parameters are bound exactly as in the
    other queries whose cursors it is compared with (a datetime bound by the driver is
    `1970-01-01 00:00:00` on SQLite, by SQLAlchemy `1970-01-01 00:00:00.000000`)."""
    result = session.execute(query)
    try:
        return list(result.cursor.fetchall())  # type: ignore[attr-defined]
    finally:
        result.close()


def cut_points(
    db: Database,
    plan: ExportPlan,
    chosen: Selection,
    stretch_rows: Callable[[int], int],
    min_rows: int = 0,
) -> tuple[int, int, list[tuple[Any, ...]]]:
    """The rows in the plan's window now, the length of a stretch (`stretch_rows` of the
    rows), and the sort-key cursor of the last row of each stretch (the window's last row
    included), read in one snapshot: stretches cut there neither overlap nor leave a gap.
    Fewer than `min_rows` rows: no cursors are read."""
    with db.read() as session:
        if db.engine.dialect.name == "postgresql":
            session.execute(sa.text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        rows = window_rows(int(session.scalar(_matches(plan)) or 0), plan)
        size = max(stretch_rows(rows), 1)
        cuts: list[tuple[Any, ...]] = []
        if rows < max(min_rows, 1):
            return rows, size, cuts
        for end in [*range(size, rows, size), rows]:
            at = chosen.keys_only.offset(plan.offset + end - 1).limit(1)
            row = session.execute(at).first()
            if row is None:
                return rows, size, []
            cuts.append(tuple(row))
    return rows, size, cuts


_END = object()


def read_ahead(batches: Iterator[T], depth: int = 1) -> Iterator[T]:
    """`batches`, produced by a thread that reads the next one while the caller writes.

    The drivers release the GIL while SQLite steps or PostgreSQL answers, so reading
    overlaps formatting and compressing. At most `depth` batches wait; when the caller
    stops early the reader stops too, and a reader's error is raised in the caller.
    """
    ready: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for batch in batches:
                while not stop.is_set():
                    try:
                        ready.put(batch, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            ready.put(_END)
        except BaseException as exc:  # handed to the consumer, which raises it
            ready.put(exc)

    reader = threading.Thread(target=produce, name="export-reader", daemon=True)
    reader.start()
    try:
        while (item := ready.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        with contextlib.suppress(queue.Empty):
            while True:
                ready.get_nowait()
        reader.join()


def names(db: Database, plan: ExportPlan) -> tuple[dict[str, str], dict[str, str]]:
    """hub id → name and flow id → name of the organisation, when the columns need them."""
    sources = {c.source for c in plan.columns}
    hub_names: dict[str, str] = {}
    flow_names: dict[str, str] = {}
    with db.read() as session:
        if "hub" in sources:
            query = sa.select(hubs.c.id, hubs.c.name).where(hubs.c.organization_id == plan.org)
            hub_names = {row.id: row.name for row in session.execute(query)}
        if "flow" in sources:
            query = sa.select(flows.c.id, flows.c.name).where(flows.c.organization_id == plan.org)
            flow_names = {row.id: row.name for row in session.execute(query)}
    return hub_names, flow_names
