"""Writing one chunk's valid rows: upsert by the match field in the import mode.

Runs inside the chunk's transaction. On SQLite that transaction holds the write
lock (BEGIN IMMEDIATE), so what the prefetch saw is still true at insert time;
on PostgreSQL a concurrent job may insert the same key in between, so inserts
use ON CONFLICT DO NOTHING and a conflicted row is handled as a match.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from loadbay.catalog.models import Hub, Record, Task
from loadbay.db import table_of
from loadbay.ids import new_ids
from loadbay.imports import pg_bulk
from loadbay.imports.journal import Journal
from loadbay.imports.validate import Checked

records = table_of(Record)
tasks = table_of(Task)
BATCH = 5000  # keys per lookup query (SQLite allows 32,766 variables)


@dataclass(frozen=True)
class WriteContext:
    org: str
    kind: str  # datasource | task
    target_id: str  # data type id or flow id
    hub_id: str | None
    scope: str  # hub id, or "" for commonData types
    primary_key: str | None
    match_field: str | None
    mode: str  # CreateOnly | UpdateOnly | CreateAndUpdate
    user: str
    now: datetime
    job_id: str | None = None  # stamped on every row written: the import that last wrote it
    journal: Journal | None = None  # before-images for undo, written with the chunk


Outcomes = dict[int, tuple[str, str]]  # row number → (created|updated|skipped|failed, reason)


@dataclass(frozen=True)
class Prepared:
    """A chunk's valid rows with what writing them needs, made before the write lock is
    taken (on SQLite every microsecond inside it is serial across all workers)."""

    rows: Sequence[Checked]
    keys: list[str]  # each row's match key
    pk_keys: list[str]  # records: each row's primary key as text
    texts: list[str]  # records: each row's data as inserted (JSON text)
    # Records matched on the primary key in a mode that creates are inserted first (see
    # `_write_records`): what that needs is worked out here too, so the write turn holds
    # little more than the INSERT. (outcomes so far, positions to insert, their rows)
    insert_first: tuple[Outcomes, list[int], list[tuple[Any, ...]]] | None = None
    # tasks: each row as a new task, a tuple in pg_bulk.TASK_COLUMNS order (new id, JSON
    # text), used for the rows that end up inserted
    task_rows: list[tuple[Any, ...]] = dataclasses.field(default_factory=list)


def prepare(ctx: WriteContext, rows: Sequence[Checked], *, sqlite: bool) -> Prepared:
    if ctx.kind != "datasource":
        match = ctx.match_field
        keys = [_match_key(r.values.get(match)) for r in rows] if match else []
        return Prepared(rows, keys, [], [], task_rows=_task_rows(ctx, rows, sqlite=sqlite))
    pk = ctx.primary_key or "dataId"
    match = ctx.match_field or pk
    dumps = orjson.dumps
    texts = []
    pk_keys = []
    for r in rows:
        data = r.values
        if None in data.values() or "_id" in data:
            data = {k: v for k, v in data.items() if v is not None and k != "_id"}
        texts.append(dumps(data).decode())
        pk_keys.append(_match_key(r.values.get(pk)))
    keys = pk_keys if match == pk else [_match_key(r.values.get(match)) for r in rows]
    batch = Prepared(rows, keys, pk_keys, texts)
    if match != pk or ctx.mode == "UpdateOnly":
        return batch
    outcomes, _updates, inserts = _classify(rows, keys, {}, ctx.mode, match, "record")
    positions = _new_keys(batch, inserts, pk, outcomes)
    params = _record_params(ctx, batch, positions, sqlite=sqlite)
    return dataclasses.replace(batch, insert_first=(outcomes, positions, params))


def write_rows(conn: Connection, ctx: WriteContext, batch: Prepared) -> Outcomes:
    if not batch.rows:
        return {}
    if ctx.kind == "datasource":
        return _write_records(conn, ctx, batch)
    return _write_tasks(conn, ctx, batch)


# ---- lookups -----------------------------------------------------------------------------


def _batches(items: Sequence[Any], size: int = BATCH) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _match_key(value: Any) -> str:
    if value.__class__ is str:  # the common case, first
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _lookup(
    conn: Connection,
    table: sa.Table,
    scope: list[Any],
    column: Any,
    keys: Sequence[str],
    key_column: Any,
) -> dict[str, list[str]]:
    """match key → ids of the rows that carry it (more than one means ambiguous)."""
    found: dict[str, list[str]] = {}
    unique = list(dict.fromkeys(keys))
    postgres = conn.dialect.name == "postgresql"
    for batch in _batches(unique):
        # One parameter, not 5,000: cheaper to send, and the statement compiles once and is
        # cached (compiling 5,000 bound values cost more than the query).
        if postgres:
            matches = column == sa.any_(
                sa.cast(sa.literal(list(batch)), postgresql.ARRAY(sa.Text()))
            )
        else:
            values = sa.func.json_each(sa.literal(orjson.dumps(list(batch)).decode(), sa.Text()))
            matches = column.in_(sa.select(sa.column("value")).select_from(values))
        query = sa.select(key_column, table.c.id).where(*scope, matches)
        for key, rid in conn.execute(query):
            found.setdefault(_match_key(key), []).append(rid)
    return found


def _json_text(conn: Connection, table: sa.Table, field: str) -> Any:
    """A JSON field as the text _match_key makes of a value: PostgreSQL's ->> gives
    booleans as 'true'/'false', SQLite's json_extract as 1/0, so SQLite asks json_type."""
    value = table.c.data[field].as_string()
    if conn.dialect.name != "sqlite":
        return value
    kind = sa.func.json_type(table.c.data, f'$."{field}"')
    return sa.case((kind == "true", "true"), (kind == "false", "false"), else_=value)


# ---- records -----------------------------------------------------------------------------


def _classify(
    rows: Sequence[Checked],
    keys: Sequence[str],
    found: dict[str, list[str]],
    mode: str,
    match: str,
    noun: str,
) -> tuple[Outcomes, list[tuple[Checked, str]], list[Checked]]:
    """Each row by what its match key found, in the import mode: (skipped/failed outcomes,
    rows to update with their target id, rows to insert)."""
    outcomes: Outcomes = {}
    updates: list[tuple[Checked, str]] = []
    inserts: list[Checked] = []
    for row, key in zip(rows, keys, strict=True):
        ids = found.get(key, [])
        if len(ids) > 1:
            outcomes[row.row_number] = (
                "failed",
                f"ambiguous match: {len(ids)} {noun}s have {match} '{key}'",
            )
        elif ids:
            if mode == "CreateOnly":
                outcomes[row.row_number] = (
                    "skipped",
                    f"a {noun} with {match} '{key}' already exists",
                )
            else:
                updates.append((row, ids[0]))
        elif mode == "UpdateOnly" or match == "_id":
            outcomes[row.row_number] = ("skipped", f"no {noun} with {match} '{key}' to update")
        else:
            inserts.append(row)
    return outcomes, updates, inserts


def _record_scope(ctx: WriteContext) -> list[sa.ColumnElement[bool]]:
    """The records a chunk's keys are unique among: its data type, in its hub's scope."""
    return [
        records.c.organization_id == ctx.org,
        records.c.data_type_id == ctx.target_id,
        records.c.scope == ctx.scope,
    ]


def _write_records(conn: Connection, ctx: WriteContext, batch: Prepared) -> Outcomes:
    rows, keys = batch.rows, batch.keys
    pk = ctx.primary_key or "dataId"
    match = ctx.match_field or pk
    scope = _record_scope(ctx)
    if match == "_id":
        column = key_col = records.c.id
    elif match == pk:
        column = key_col = records.c.data_id
    else:
        column = key_col = _json_text(conn, records, match)
    sqlite = conn.dialect.name == "sqlite"
    if batch.insert_first is not None:
        # Matching on the primary key in a mode that creates: insert first and look up
        # only the keys the unique index turned away (a first import looks nothing up).
        planned, positions, params = batch.insert_first
        conflicted = _insert_records(conn, ctx, batch, positions, params)
        _journal_created(ctx, batch, positions, params, conflicted)
        return _finish_records(conn, ctx, batch, dict(planned), [], positions, conflicted)
    index = {r.row_number: i for i, r in enumerate(rows)}
    found = _lookup(conn, records, scope, column, keys, key_col)
    outcomes, updates, inserts = _classify(rows, keys, found, ctx.mode, match, "record")

    if inserts and match != pk:  # a new row must not collide with an unmatched record's key
        taken = _lookup(
            conn,
            records,
            scope,
            records.c.data_id,
            [batch.pk_keys[index[r.row_number]] for r in inserts],
            records.c.data_id,
        )
        kept = []
        for row in inserts:
            key = batch.pk_keys[index[row.row_number]]
            if key in taken:
                outcomes[row.row_number] = (
                    "failed",
                    f"{pk} '{key}' already exists on another record",
                )
            else:
                kept.append(row)
        inserts = kept

    positions = _new_keys(batch, inserts, pk, outcomes)
    params = _record_params(ctx, batch, positions, sqlite=sqlite)
    conflicted = _insert_records(conn, ctx, batch, positions, params)
    _journal_created(ctx, batch, positions, params, conflicted)
    return _finish_records(conn, ctx, batch, outcomes, updates, positions, conflicted)


def _journal_created(
    ctx: WriteContext,
    batch: Prepared,
    positions: Sequence[int],
    params: Sequence[tuple[Any, ...]],
    conflicted: dict[int, Checked],
) -> None:
    if ctx.journal is None or not positions:
        return
    if not conflicted:
        ctx.journal.add_created([p[0] for p in params])
        return
    rows = batch.rows
    ctx.journal.add_created(
        [
            p[0]
            for i, p in zip(positions, params, strict=True)
            if rows[i].row_number not in conflicted
        ]
    )


def _new_keys(
    batch: Prepared, inserts: Sequence[Checked], pk: str, outcomes: Outcomes
) -> list[int]:
    """Positions of the rows to insert; a key twice among them (e.g. "007" and "7" as
    integers) fails the later row."""
    index = {r.row_number: i for i, r in enumerate(batch.rows)}
    first: dict[str, int] = {}
    positions = []
    for row in inserts:
        i = index[row.row_number]
        key = batch.pk_keys[i]
        if key in first:
            outcomes[row.row_number] = ("failed", f"duplicate of row {first[key]} ({pk} '{key}')")
        else:
            first[key] = row.row_number
            positions.append(i)
    return positions


def _record_params(
    ctx: WriteContext, batch: Prepared, positions: Sequence[int], *, sqlite: bool
) -> list[tuple[Any, ...]]:
    """The rows at `positions` as tuples in RECORD_COLUMNS order, with new ids: at a
    million rows the dict-per-row and per-value conversions of a generic path cost seconds."""
    stamp: Any = _sqlite_value(ctx.now) if sqlite else ctx.now
    head = (ctx.org, ctx.target_id, ctx.hub_id, ctx.scope)
    tail = (ctx.user, ctx.user, stamp, stamp, ctx.job_id)
    pk_keys, texts = batch.pk_keys, batch.texts
    return [
        (rid, *head, pk_keys[i], texts[i], *tail)
        for rid, i in zip(new_ids(len(positions)), positions, strict=True)
    ]


def _finish_records(
    conn: Connection,
    ctx: WriteContext,
    batch: Prepared,
    outcomes: Outcomes,
    updates: list[tuple[Checked, str]],
    positions: Sequence[int],
    conflicted: dict[int, Checked],
) -> Outcomes:
    """Outcomes of the inserted rows; rows whose key turned out taken become updates (or
    skips), then the updates are written."""
    pk = ctx.primary_key or "dataId"
    match = ctx.match_field or pk
    scope = _record_scope(ctx)
    rows = batch.rows
    for i in positions:
        number = rows[i].row_number
        if number not in conflicted:
            outcomes[number] = ("created", "")
    if conflicted:  # the key exists (inserted earlier, or meanwhile by a concurrent job)
        index = {r.row_number: i for i, r in enumerate(rows)}
        late = _lookup(
            conn,
            records,
            scope,
            records.c.data_id,
            [batch.pk_keys[index[n]] for n in conflicted],
            records.c.data_id,
        )
        for number, row in conflicted.items():
            key = batch.pk_keys[index[number]]
            if ctx.mode == "CreateOnly" or key not in late:
                outcomes[number] = ("skipped", f"a record with {pk} '{key}' already exists")
            else:
                updates.append((row, late[key][0]))

    _update_records(conn, ctx, updates, drop=pk if match != pk else None)
    for row, _rid in updates:
        outcomes[row.row_number] = ("updated", "")
    return outcomes


def _insert_records(
    conn: Connection,
    ctx: WriteContext,
    batch: Prepared,
    positions: Sequence[int],
    params: Sequence[tuple[Any, ...]],
) -> dict[int, Checked]:
    """Insert `params` (the rows at `positions`) where the key is free; returns the rows
    that hit an existing key."""
    if not positions:
        return {}
    sqlite = conn.dialect.name == "sqlite"
    rows = batch.rows
    if sqlite:
        columns = ", ".join(pg_bulk.RECORD_COLUMNS)
        marks = ", ".join("?" * len(pg_bulk.RECORD_COLUMNS))
        sql = f"INSERT OR IGNORE INTO records ({columns}) VALUES ({marks})"
        if conn.exec_driver_sql(sql, params).rowcount == len(params):
            return {}
        scope = _record_scope(ctx)
        ours = {p[0] for p in params}
        holders = _lookup(
            conn, records, scope, records.c.data_id, [p[5] for p in params], records.c.data_id
        )
        return {
            rows[i].row_number: rows[i]
            for i, p in zip(positions, params, strict=True)
            if not ours.intersection(holders.get(p[5], ()))
        }
    inserted = pg_bulk.insert_records(conn, params)
    return {
        rows[i].row_number: rows[i]
        for i, p in zip(positions, params, strict=True)
        if p[5] not in inserted
    }


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def _update_records(
    conn: Connection, ctx: WriteContext, updates: Sequence[tuple[Checked, str]], drop: str | None
) -> None:
    if not updates:
        return
    if ctx.journal is not None:
        ctx.journal.before_update(conn, [rid for _row, rid in updates])
    patches = [
        (
            orjson.dumps({k: v for k, v in row.values.items() if k not in ("_id", drop)}).decode(),
            rid,
        )
        for row, rid in updates
    ]
    if conn.dialect.name == "sqlite":
        stamp = ctx.now.strftime("%Y-%m-%d %H:%M:%S.%f")
        conn.exec_driver_sql(
            "UPDATE records SET data = json_patch(data, ?), updated_time = ?, updated_by = ?, "
            "last_import_id = ? WHERE id = ?",
            [(patch, stamp, ctx.user, ctx.job_id, rid) for patch, rid in patches],
        )
        return
    pg_bulk.update_records(conn, patches, ctx.user, ctx.now, ctx.job_id)


# ---- tasks -------------------------------------------------------------------------------

_TASK_COLUMNS = {
    "title": "title",
    "status": "status",
    "assignee": "assignee",
    "hubId": "hub_id",
    "startTime": "start_time",
    "endTime": "end_time",
    "doneBy": "done_by",
    "doneTime": "done_time",
}
_TASK_TIMES = {"startTime", "endTime", "doneTime"}


def _naive_utc(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def _task_rows(
    ctx: WriteContext, rows: Sequence[Checked], *, sqlite: bool
) -> list[tuple[Any, ...]]:
    """Each row as a new task (see `Prepared.task_rows`), made before the write turn."""
    stamp: Any = _sqlite_value(ctx.now) if sqlite else ctx.now
    dumps = orjson.dumps
    out = []
    for rid, row in zip(new_ids(len(rows)), rows, strict=True):
        columns, data = _task_columns(ctx, row.values, insert=True)
        times = [columns.get(c) for c in ("start_time", "end_time", "done_time")]
        if sqlite:
            times = [_sqlite_value(t) for t in times]
        out.append(
            (
                rid, ctx.org, ctx.target_id, columns.get("hub_id"), columns.get("title"),
                columns.get("status") or "UNASSIGNED", columns.get("assignee"), times[0],
                times[1], columns.get("done_by"), times[2], dumps(data).decode(), ctx.user,
                stamp, stamp, ctx.job_id,
            )
        )  # fmt: skip
    return out


def _task_columns(
    ctx: WriteContext, values: dict[str, Any], insert: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    columns: dict[str, Any] = {}
    data: dict[str, Any] = {}
    for key, value in values.items():
        if key == "_id":
            continue
        column = _TASK_COLUMNS.get(key)
        if column is None:
            if value is not None or not insert:
                data[key] = value
        elif key in _TASK_TIMES and value is not None:
            columns[column] = _naive_utc(value)
        elif value is not None or (not insert and key not in _TASK_KEEP):
            columns[column] = value
    if insert and not columns.get("hub_id"):
        columns["hub_id"] = ctx.hub_id
    return columns, data


# A blank cell never clears these on update: a task always has a status, and its hub
# comes from the import's form when the file has none.
_TASK_KEEP = frozenset({"status", "hubId"})


def _foreign_hubs(conn: Connection, ctx: WriteContext, rows: Sequence[Checked]) -> set[str]:
    """Hub ids named in the rows that are not this organisation's hubs."""
    named = {str(r.values["hubId"]) for r in rows if r.values.get("hubId")}
    if not named:
        return set()
    hubs = table_of(Hub)
    known = set(
        conn.execute(
            sa.select(hubs.c.id).where(hubs.c.organization_id == ctx.org, hubs.c.id.in_(named))
        ).scalars()
    )
    return named - known


def _write_tasks(conn: Connection, ctx: WriteContext, batch: Prepared) -> Outcomes:
    rows: Sequence[Checked] = batch.rows
    keys = batch.keys
    outcomes: Outcomes = {}
    foreign = _foreign_hubs(conn, ctx, rows)
    if foreign:
        for row in rows:
            hub = row.values.get("hubId")
            if hub and str(hub) in foreign:
                outcomes[row.row_number] = ("failed", f"Hub ID: hub '{hub}' not found")
        kept = [i for i, r in enumerate(rows) if r.row_number not in outcomes]
        rows = [rows[i] for i in kept]
        keys = [keys[i] for i in kept] if keys else keys
    match = ctx.match_field
    updates: list[tuple[Checked, str]] = []
    inserts: list[Checked] = list(rows)
    if match:
        scope = [tasks.c.organization_id == ctx.org, tasks.c.flow_id == ctx.target_id]
        if match == "_id":
            column = tasks.c.id
        elif match in _TASK_COLUMNS:
            column = tasks.c[_TASK_COLUMNS[match]]
        else:
            column = _json_text(conn, tasks, match)
        found = _lookup(conn, tasks, scope, column, keys, column)
        classified, updates, inserts = _classify(rows, keys, found, ctx.mode, match, "task")
        outcomes.update(classified)
    if inserts:
        prepared = dict(zip((r.row_number for r in batch.rows), batch.task_rows, strict=True))
        params = [prepared[row.row_number] for row in inserts]
        for row in inserts:
            outcomes[row.row_number] = ("created", "")
        if ctx.journal is not None:
            ctx.journal.add_created([p[0] for p in params])
        if conn.dialect.name == "sqlite":
            names = ", ".join(pg_bulk.TASK_COLUMNS)
            marks = ", ".join("?" * len(pg_bulk.TASK_COLUMNS))
            conn.exec_driver_sql(f"INSERT INTO tasks ({names}) VALUES ({marks})", params)
        else:
            pg_bulk.copy_rows(conn, "tasks", pg_bulk.TASK_COLUMNS, params)
    if ctx.journal is not None:
        ctx.journal.before_update(conn, [tid for _row, tid in updates])
    for row, tid in updates:
        columns, data = _task_columns(ctx, row.values, insert=False)
        patch = orjson.dumps(data).decode()
        merged = (
            sa.func.json_patch(tasks.c.data, patch)
            if conn.dialect.name == "sqlite"
            else sa.func.jsonb_strip_nulls(
                tasks.c.data.op("||")(sa.cast(sa.literal(patch, sa.Text()), postgresql.JSONB))
            )
        )
        conn.execute(
            sa.update(tasks)
            .where(tasks.c.id == tid)
            .values(**columns, data=merged, updated_time=ctx.now, last_import_id=ctx.job_id)
        )
        outcomes[row.row_number] = ("updated", "")
    return outcomes
