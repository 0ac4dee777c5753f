"""Before-images: what an import's chunk changed, kept so the import can be taken back.

Runs inside the chunk's transaction (imports/writes.py calls it), so the images commit
or roll back with the writes they describe. One row per chunk: the ids it created,
and for each row it updated the values it had before. Created rows cost nothing more
than their ids; an update costs one SELECT of the rows it is about to change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from loadbay.catalog.models import Record, Task
from loadbay.db import table_of
from loadbay.imports.models import ImportBeforeImage

records = table_of(Record)
tasks = table_of(Task)
images = table_of(ImportBeforeImage)

# Task columns an import can change, restored by a revert (besides `data`).
TASK_FIELDS = (
    "title", "status", "assignee", "hub_id", "start_time", "end_time", "done_by", "done_time",
)  # fmt: skip
_TASK_TIMES = frozenset({"start_time", "end_time", "done_time"})


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def parse_time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


@dataclass
class Journal:
    """Collects one chunk's before-images; `write` adds them to its transaction."""

    job_id: str
    kind: str  # record | task
    created: list[str] = field(default_factory=list)
    updated: list[list[Any]] = field(default_factory=list)

    def add_created(self, ids: Sequence[str]) -> None:
        self.created.extend(ids)

    def before_update(self, conn: Connection, ids: Sequence[str]) -> None:
        """Read the rows about to be updated, as they are now (locked on PostgreSQL, so
        nothing changes them between this read and the update)."""
        if not ids:
            return
        table = records if self.kind == "record" else tasks
        extra = [table.c[c] for c in TASK_FIELDS] if self.kind == "task" else []
        by = [table.c.updated_by] if self.kind == "record" else []
        query = sa.select(
            table.c.id, table.c.data, table.c.updated_time, table.c.last_import_id, *by, *extra
        ).where(table.c.id.in_(sa.bindparam("ids", expanding=True)))
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        for start in range(0, len(ids), 5000):
            for row in conn.execute(query, {"ids": list(ids[start : start + 5000])}):
                values = {"data": row.data}
                if self.kind == "record":
                    values["updated_by"] = row.updated_by
                else:
                    values.update({c: _iso(getattr(row, c)) for c in TASK_FIELDS})
                self.updated.append([row.id, values, _iso(row.updated_time), row.last_import_id])

    def write(self, conn: Connection, written_time: datetime) -> None:
        if not self.created and not self.updated:
            return
        conn.execute(
            sa.insert(images),
            {
                "job_id": self.job_id,
                "kind": self.kind,
                "written_time": written_time,
                "created": self.created,
                "updated": self.updated,
                "reverted": False,
            },
        )


def restored_task_values(values: dict[str, Any]) -> dict[str, Any]:
    out = {c: values.get(c) for c in TASK_FIELDS}
    for c in _TASK_TIMES:
        out[c] = parse_time(out[c])
    out["data"] = values.get("data") or {}
    return out
