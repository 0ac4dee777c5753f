"""Undo an import (issue 13 item 5): delete what it created, restore what it updated.

A revert walks the import's before-images (imports/journal.py), one chunk's image per
transaction, so it is safe to stop and run again: an image is marked reverted in the
same transaction as the changes it undoes. A record or task changed since the import
(its `updatedTime` or the import that last wrote it differ from what the import left)
is left as it is and listed as a conflict. The import's own `status` never changes;
the revert has its own (`revertStatus`: Queued, InProgress, Done, Failed).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from loadbay.auth import Principal
from loadbay.catalog.models import Record, Task
from loadbay.db import Database, get_database, rowcount, table_of
from loadbay.errors import Conflict
from loadbay.ids import new_owner, utcnow
from loadbay.imports.events import import_event
from loadbay.imports.journal import parse_time, restored_task_values
from loadbay.imports.models import ImportBeforeImage, ImportJob, ImportRevertConflict
from loadbay.imports.service import get_job
from loadbay.settings import get_settings

log = logging.getLogger("loadbay.imports")
jobs = table_of(ImportJob)
images = table_of(ImportBeforeImage)
conflicts = table_of(ImportRevertConflict)
records = table_of(Record)
tasks = table_of(Task)
REVERTIBLE = ("success", "partially", "failed", "cancelled")


def request_revert(session: Any, job: ImportJob, email: str) -> None:
    """Queue a revert of a finished import (in the caller's transaction). A revert that
    failed, or whose worker died (its lease ran out), may be asked for again and goes
    on where it stopped."""
    if job.phase != "done" or job.status not in REVERTIBLE:
        raise Conflict(
            "import-032", f"Import job {job.id} has not finished: it cannot be reverted yet"
        )
    now = utcnow()
    # Queued again is harmless (a lost queue message is sent anew; one claim runs it);
    # InProgress only once its worker's lease has run out.
    again = sa.or_(
        jobs.c.revert_status.is_(None),
        jobs.c.revert_status.in_(("Failed", "Queued")),
        sa.and_(jobs.c.revert_status == "InProgress", jobs.c.revert_expires < now),
    )
    changed = session.execute(
        jobs.update()
        .where(jobs.c.id == job.id, jobs.c.phase == "done", again)
        .values(
            revert_status="Queued",
            reverted_by=email,
            revert_owner=None,
            revert_expires=None,
            updated_time=now,
        )
    )
    if rowcount(changed) != 1:
        state = job.revert_status or "requested"
        raise Conflict(
            "import-032", f"Import job {job.id} is already reverted or being reverted ({state})"
        )


def request_job_revert(principal: Principal, code: str, db: Database | None = None) -> ImportJob:
    """`request_revert` in its own transaction; answers the job as it is then. The
    caller enqueues the revert once this has returned (i.e. committed). `db`: the app's
    (the process's when not given)."""
    db = db or get_database()
    with db.write() as session:
        request_revert(session, get_job(session, principal.org, code), principal.email)
    with db.read() as session:
        return get_job(session, principal.org, code)


def _lease() -> Any:
    return utcnow() + timedelta(seconds=get_settings().lease_seconds)


def run_revert(job_id: str) -> None:
    """Claim the revert and undo the import's chunks one by one; safe to run twice."""
    owner = new_owner()
    now = utcnow()
    db = get_database()
    with db.write() as session:
        claimed = rowcount(
            session.execute(
                jobs.update()
                .where(
                    jobs.c.id == job_id,
                    jobs.c.revert_status.in_(("Queued", "InProgress")),
                    sa.or_(jobs.c.revert_owner.is_(None), jobs.c.revert_expires < now),
                )
                .values(revert_status="InProgress", revert_owner=owner, revert_expires=_lease())
            )
        )
    if not claimed:
        return
    try:
        while _revert_next(job_id, owner):
            pass
    except Exception:
        log.exception("revert failed", extra={"job": job_id})
        with db.write() as session:
            session.execute(
                jobs.update()
                .where(jobs.c.id == job_id, jobs.c.revert_owner == owner)
                .values(revert_status="Failed", revert_owner=None, revert_expires=None)
            )
            import_event(session, job_id, "import.reverted")
        raise


def _revert_next(job_id: str, owner: str) -> bool:
    """Undo the next chunk's image; False once none is left (the revert is Done)."""
    with get_database().write() as session:
        conn = session.connection()
        held = rowcount(
            conn.execute(
                jobs.update()
                .where(jobs.c.id == job_id, jobs.c.revert_owner == owner)
                .values(revert_expires=_lease())
            )
        )
        if not held:  # taken over by a newer claim: it finishes
            return False
        image = conn.execute(
            sa.select(images)
            .where(images.c.job_id == job_id, images.c.reverted.is_(False))
            .order_by(images.c.id.desc())
            .limit(1)
        ).first()
        if image is None:
            now = utcnow()
            conn.execute(
                jobs.update()
                .where(jobs.c.id == job_id)
                .values(
                    revert_status="Done", reverted_at=now, revert_owner=None, revert_expires=None
                )
            )
            import_event(session, job_id, "import.reverted")
            return False
        reverter = conn.execute(sa.select(jobs.c.reverted_by).where(jobs.c.id == job_id)).scalar()
        done, skipped = _undo(conn, job_id, image, str(reverter or "system"))
        conn.execute(images.update().where(images.c.id == image.id).values(reverted=True))
        conn.execute(
            jobs.update()
            .where(jobs.c.id == job_id)
            .values(
                reverted_count=jobs.c.reverted_count + done,
                revert_skipped=jobs.c.revert_skipped + skipped,
            )
        )
        return True


def _undo(conn: Connection, job_id: str, image: Any, user: str) -> tuple[int, int]:
    """(rows reverted, rows left as they were) for one chunk's image."""
    table = records if image.kind == "record" else tasks
    created: list[str] = list(image.created or [])
    updated: dict[str, list[Any]] = {u[0]: u for u in image.updated or []}
    ids = [*created, *updated]
    current: dict[str, Any] = {}
    query = sa.select(table.c.id, table.c.updated_time, table.c.last_import_id).where(
        table.c.id.in_(sa.bindparam("ids", expanding=True))
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    for start in range(0, len(ids), 5000):
        for row in conn.execute(query, {"ids": ids[start : start + 5000]}):
            current[row.id] = row

    def untouched(rid: str) -> bool:
        row = current.get(rid)
        return (
            row is not None
            and row.last_import_id == job_id
            and row.updated_time == image.written_time
        )

    found: list[dict[str, Any]] = []
    for rid in ids:
        if rid in current and not untouched(rid):
            action = "delete" if rid not in updated else "restore"
            found.append(
                {
                    "job_id": job_id,
                    "kind": image.kind,
                    "target_id": rid,
                    "action": action,
                    "reason": _reason(current[rid], job_id),
                }
            )
    deletes = [rid for rid in created if untouched(rid)]
    restores = [updated[rid] for rid in updated if untouched(rid)]
    for start in range(0, len(deletes), 5000):
        conn.execute(sa.delete(table).where(table.c.id.in_(deletes[start : start + 5000])))
    now = utcnow()

    def stamp(u: list[Any]) -> Any:
        # A row this same import wrote in an earlier chunk gets that chunk's stamp back, so
        # the earlier chunk's image still finds it untouched; any other gets a new
        # updatedTime, so clients syncing by updatedTime see the revert.
        return parse_time(u[2]) if u[3] == job_id else now

    if restores and image.kind == "record":
        conn.execute(
            sa.update(table)
            .where(table.c.id == sa.bindparam("rid"))
            .values(
                data=sa.bindparam("old_data", type_=table.c.data.type),
                last_import_id=sa.bindparam("old_import"),
                updated_time=sa.bindparam("stamp", type_=table.c.updated_time.type),
                updated_by=user,
            ),
            [
                {"rid": u[0], "old_data": u[1]["data"], "old_import": u[3], "stamp": stamp(u)}
                for u in restores
            ],
        )
    for u in restores if image.kind == "task" else []:
        conn.execute(
            sa.update(table)
            .where(table.c.id == u[0])
            .values(**restored_task_values(u[1]), last_import_id=u[3], updated_time=stamp(u))
        )
    if found:
        conn.execute(sa.insert(conflicts), found)
    return len(deletes) + len(restores), len(found)


def _reason(row: Any, job_id: str) -> str:
    if row.last_import_id != job_id and row.last_import_id:
        return f"written again by import {row.last_import_id} after this import"
    return f"changed after this import (updatedTime {row.updated_time:%Y-%m-%d %H:%M:%S})"
