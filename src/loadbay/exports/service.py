"""Export orchestration: check, count, log, write — directly or in the background.

Every export is an export-log entry, direct ones too. The entry holds the
accepted plan, so the background task runs exactly what was checked, and it
holds the storage key of the file, never a link: links are signed when read.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool

from loadbay import idempotency
from loadbay.auth import Principal
from loadbay.db import Database, get_database
from loadbay.errors import ApiError, BadRequest
from loadbay.exports import direct, queries
from loadbay.exports.models import ExportLog
from loadbay.exports.plan import ExportPlan, build_plan

# The file's writing has its own module (the direct path's worker process runs it too);
# named here as well for the worker's task and the CLI.
from loadbay.exports.run import failure_reason as failure_reason
from loadbay.exports.run import file_key as file_key
from loadbay.exports.run import run_export as run_export
from loadbay.exports.schemas import FILE_TYPES, ExportRequest, export_answer
from loadbay.exports.schemas import file_link as file_link  # the console links through here
from loadbay.ids import utcnow
from loadbay.leases import is_transient as is_transient
from loadbay.queue import enqueue
from loadbay.settings import Settings, get_settings

log = logging.getLogger("loadbay.exports")

_slots_lock = threading.Lock()
_slots: tuple[int, threading.BoundedSemaphore] | None = None


def direct_slots(settings: Settings | None = None) -> threading.BoundedSemaphore:
    """The semaphore capping concurrent direct exports (sized by the settings)."""
    global _slots
    size = (settings or get_settings()).direct_export_concurrency
    with _slots_lock:
        if _slots is None or _slots[0] != size:
            _slots = (size, threading.BoundedSemaphore(size))
        return _slots[1]


def prepare(
    db: Database, org: str, req: ExportRequest, settings: Settings | None = None
) -> tuple[ExportPlan, int]:
    """The checked plan and the number of rows it will write (400 over the export limit).
    `settings`: the caller's (the app's); the process's current ones when not given."""
    with db.read() as session:
        plan = build_plan(session, org, req)
    rows = queries.window_rows(queries.count(db, plan), plan)
    most = (settings or get_settings()).max_export_rows
    if rows > most:
        raise BadRequest(
            "export-040",
            f"The export matches {rows:,} records; at most {most:,} can be exported at once. "
            "Narrow the filters or export page by page with limit.",
        )
    return plan, rows


def start_export(principal: Principal, req: ExportRequest) -> dict[str, Any]:
    """Run (direct, on this thread) or queue (background) one export; the vendor's answer.
    The API awaits direct exports in a worker process instead (`export`)."""
    db = get_database()
    _claim(req)
    if req.background:
        return _queue(db, principal, req)
    plan = prepare_direct(db, principal.org, req)
    with _direct_slot():
        entry = create_log(db, principal, plan, req)
        done = run_export(entry.id)
    return direct_answer(plan, done)


async def export(
    principal: Principal, req: ExportRequest, db: Database, settings: Settings
) -> dict[str, Any]:
    """`start_export` for the API, on the app's database and settings: the checks and
    the log entry on the thread pool, a direct export's writing in a worker process
    awaited on the event loop (no request thread is held while it runs, so polls beside
    it stay fast)."""
    await run_in_threadpool(_claim, req)
    if req.background:
        return await run_in_threadpool(_queue, db, principal, req, settings)
    plan = await run_in_threadpool(prepare_direct, db, principal.org, req, settings)
    done = await write_direct(db, principal, plan, req, settings)
    return direct_answer(plan, done)


async def write_direct(
    db: Database,
    principal: Principal,
    plan: ExportPlan,
    req: ExportRequest,
    settings: Settings | None = None,
) -> ExportLog | None:
    """A checked direct export's log entry, written (429 `export-036` when the direct
    slots are all taken); None when it did not run. The worker process writes it with
    the caller's settings, handed to it."""
    settings = settings or get_settings()
    with _direct_slot(settings):
        entry = await run_in_threadpool(create_log, db, principal, plan, req)
        if settings.direct_export_in_worker_process:
            return await direct.run_direct(db, settings, entry.id)
        return await run_in_threadpool(run_export, entry.id)


def _claim(req: ExportRequest) -> None:
    """An `Idempotency-Key` repeat answers here, before anything is counted or written."""
    idempotency.claim(orjson.dumps(asdict(req), default=str).decode())


def _queue(
    db: Database, principal: Principal, req: ExportRequest, settings: Settings | None = None
) -> dict[str, Any]:
    plan, _rows = prepare(db, principal.org, req, settings)
    entry = create_log(db, principal, plan, req)
    enqueue("export", entry.id)  # after the commit: a worker never sees an unknown entry
    return export_answer(
        report_type=plan.kind,
        org=plan.org,
        requested=entry.request_at,
        status="Processing",
        log_id=entry.id,
    )


def prepare_direct(
    db: Database, org: str, req: ExportRequest, settings: Settings | None = None
) -> ExportPlan:
    settings = settings or get_settings()
    plan, rows = prepare(db, org, req, settings)
    most = settings.direct_export_max_rows
    if rows > most:
        raise BadRequest(
            "export-040",
            f"The export matches {rows:,} records; a direct export writes at most {most:,}. "
            "Use background=true: the file then appears in GET /tasks/export-log.",
        )
    return plan


@contextlib.contextmanager
def _direct_slot(settings: Settings | None = None) -> Iterator[None]:
    slots = direct_slots(settings)
    if not slots.acquire(blocking=False):
        raise ApiError(
            "export-036",
            "Too many direct exports are running; try again shortly or use background=true.",
            429,
        )
    try:
        yield
    finally:
        slots.release()


def direct_answer(plan: ExportPlan, done: ExportLog | None) -> dict[str, Any]:
    if done is None or done.status != "Done":
        reason = done.error if done is not None else "the export did not run"
        # The vendor's 500: its message, the reason in `error.message` (never a file or line).
        raise ApiError("export-045", "Internal server error", 500, {"error": {"message": reason}})
    return export_answer(
        report_type=plan.kind,
        org=plan.org,
        requested=done.request_at,
        status="Done",
        total=done.total,
        last_id=done.last_id,
        last_field=done.last_field,
        link=file_link(done),
    )


def create_log(
    db: Database, principal: Principal, plan: ExportPlan, req: ExportRequest
) -> ExportLog:
    flows = plan.flow_ids or ()
    entry = ExportLog(
        organization_id=plan.org,
        report_type=plan.kind,
        data_type=plan.data_type_id
        if plan.kind == "data"
        else (flows[0] if len(flows) == 1 else None),
        data_name=plan.name,
        file_type=FILE_TYPES[plan.download],
        status="Processing",
        params={"plan": plan.to_json(), "request": asdict(req)},
        email=principal.email,
        background=req.background,
        request_at=utcnow(),
    )
    with db.write() as session:
        session.add(entry)
        session.flush()  # the entry's id, for the Idempotency-Key's row
        idempotency.record(session, entry.id)
    return entry
