"""PostgreSQL bulk path: COPY into a temporary table, then one set-based statement.

psycopg's COPY runs on the same connection, inside the chunk's transaction, so
it commits or rolls back together with the chunk's done mark.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from sqlalchemy.engine import Connection

RECORD_COLUMNS = (
    "id", "organization_id", "data_type_id", "hub_id", "scope", "data_id", "data",
    "created_by", "updated_by", "created_time", "updated_time", "last_import_id",
)  # fmt: skip


TASK_COLUMNS = (
    "id", "organization_id", "flow_id", "hub_id", "title", "status", "assignee",
    "start_time", "end_time", "done_by", "done_time", "data", "created_by",
    "created_time", "updated_time", "last_import_id",
)  # fmt: skip


def _driver(conn: Connection) -> Any:
    return conn.connection.driver_connection


# Targets (data type + scope) where a COPY straight into `records` met an existing key in
# this process: their chunks go through the staging table at once.
_conflicted_targets: set[tuple[str, str]] = set()


def insert_records(conn: Connection, params: Sequence[tuple[Any, ...]]) -> set[str]:
    """Insert rows (tuples in RECORD_COLUMNS order, data as JSON text) whose key is free;
    returns the data ids that were inserted.

    First a COPY straight into `records` under a savepoint: when no key exists yet (a
    first import) that is the whole work. A unique violation rolls back to the savepoint
    and the rows go through a staging table and `INSERT … ON CONFLICT DO NOTHING`."""
    if not params:
        return set()
    cols = ", ".join(RECORD_COLUMNS)
    target = (params[0][2], params[0][4])
    with _driver(conn).cursor() as cur:
        if target not in _conflicted_targets:
            cur.execute("SAVEPOINT loadbay_copy")
            try:
                with cur.copy(f"COPY records ({cols}) FROM STDIN") as copy:
                    for row in params:
                        copy.write_row(row)
            except psycopg.errors.UniqueViolation:
                cur.execute("ROLLBACK TO SAVEPOINT loadbay_copy")
                _conflicted_targets.add(target)
            else:
                cur.execute("RELEASE SAVEPOINT loadbay_copy")
                return {row[5] for row in params}
        cur.execute(
            "CREATE TEMP TABLE stage_records (LIKE records INCLUDING DEFAULTS) ON COMMIT DROP"
        )
        with cur.copy(f"COPY stage_records ({cols}) FROM STDIN") as copy:
            for row in params:
                copy.write_row(row)
        cur.execute(
            f"INSERT INTO records ({cols}) SELECT {cols} FROM stage_records "
            "ON CONFLICT (data_type_id, scope, data_id) DO NOTHING RETURNING data_id"
        )
        inserted = {row[0] for row in cur.fetchall()}
        cur.execute("DROP TABLE stage_records")
    return inserted


def copy_rows(
    conn: Connection, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """COPY rows (tuples in `columns` order, JSON as text) into a table with no key they
    could conflict on (new tasks: only their fresh ids are unique)."""
    with (
        _driver(conn).cursor() as cur,
        cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


def update_records(
    conn: Connection,
    patches: Sequence[tuple[str, str]],
    user: str,
    now: datetime,
    job_id: str | None = None,
) -> None:
    """Merge each JSON patch into its record's data: (patch, record id) pairs. A null in the
    patch removes the field, as SQLite's json_patch does, so both engines store the same."""
    with _driver(conn).cursor() as cur:
        cur.execute("CREATE TEMP TABLE stage_patches (id varchar(24), patch jsonb) ON COMMIT DROP")
        with cur.copy("COPY stage_patches (id, patch) FROM STDIN") as copy:
            for patch, rid in patches:
                copy.write_row((rid, patch))
        cur.execute(
            "UPDATE records r SET data = jsonb_strip_nulls(r.data || s.patch), updated_time = %s, updated_by = %s, "
            "last_import_id = %s FROM stage_patches s WHERE r.id = s.id",
            (now, user, job_id),
        )
        cur.execute("DROP TABLE stage_patches")
