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
from loadbay.exports import direct, queries, state, writing
from loadbay.exports.models import ExportLog
from loadbay.exports.plan import ExportPlan, build_plan
from loadbay.exports.schemas import FILE_TYPES, ExportRequest, export_answer
from loadbay.exports.schemas import file_link as file_link  # the console links through here
from loadbay.ids import new_owner, utcnow
from loadbay.leases import HandBack, Heartbeat, LeaseLost
from loadbay.leases import is_transient as is_transient  # also used by exports.parallel
from loadbay.queue import enqueue
from loadbay.settings import get_settings
from loadbay.storage import get_storage

log = logging.getLogger("loadbay.exports")

_slots_lock = threading.Lock()
_slots: tuple[int, threading.BoundedSemaphore] | None = None


def direct_slots() -> threading.BoundedSemaphore:
    """The semaphore capping concurrent direct exports (sized by the current settings)."""
    global _slots
    size = get_settings().direct_export_concurrency
    with _slots_lock:
        if _slots is None or _slots[0] != size:
            _slots = (size, threading.BoundedSemaphore(size))
        return _slots[1]


def prepare(db: Database, org: str, req: ExportRequest) -> tuple[ExportPlan, int]:
    """The checked plan and the number of rows it will write (400 over the export limit)."""
    with db.read() as session:
        plan = build_plan(session, org, req)
    rows = queries.window_rows(queries.count(db, plan), plan)
    most = get_settings().max_export_rows
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


async def export(principal: Principal, req: ExportRequest) -> dict[str, Any]:
    """`start_export` for the API: the checks and the log entry on the thread pool, a
    direct export's writing in a worker process awaited on the event loop (no request
    thread is held while it runs, so polls beside it stay fast)."""
    db = get_database()
    await run_in_threadpool(_claim, req)
    if req.background:
        return await run_in_threadpool(_queue, db, principal, req)
    plan = await run_in_threadpool(prepare_direct, db, principal.org, req)
    done = await write_direct(db, principal, plan, req)
    return direct_answer(plan, done)


async def write_direct(
    db: Database, principal: Principal, plan: ExportPlan, req: ExportRequest
) -> ExportLog | None:
    """A checked direct export's log entry, written (429 `export-036` when the direct
    slots are all taken); None when it did not run."""
    with _direct_slot():
        entry = await run_in_threadpool(create_log, db, principal, plan, req)
        if get_settings().direct_export_in_worker_process:
            return await direct.run_direct(db, entry.id)
        return await run_in_threadpool(run_export, entry.id)


def _claim(req: ExportRequest) -> None:
    """An `Idempotency-Key` repeat answers here, before anything is counted or written."""
    idempotency.claim(orjson.dumps(asdict(req), default=str).decode())


def _queue(db: Database, principal: Principal, req: ExportRequest) -> dict[str, Any]:
    plan, _rows = prepare(db, principal.org, req)
    entry = create_log(db, principal, plan, req)
    enqueue("export", entry.id)  # after the commit: a worker never sees an unknown entry
    return export_answer(
        report_type=plan.kind,
        org=plan.org,
        requested=entry.request_at,
        status="Processing",
        log_id=entry.id,
    )


def prepare_direct(db: Database, org: str, req: ExportRequest) -> ExportPlan:
    plan, rows = prepare(db, org, req)
    most = get_settings().direct_export_max_rows
    if rows > most:
        raise BadRequest(
            "export-040",
            f"The export matches {rows:,} records; a direct export writes at most {most:,}. "
            "Use background=true: the file then appears in GET /tasks/export-log.",
        )
    return plan


@contextlib.contextmanager
def _direct_slot() -> Iterator[None]:
    slots = direct_slots()
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


def file_key(entry: ExportLog, plan: ExportPlan) -> tuple[str, str]:
    stem = writing.file_stem(plan, entry.request_at)
    return f"{entry.organization_id}/exports/{entry.id}/{stem}.{entry.file_type}", stem


def failure_reason(exc: BaseException) -> str:
    """What the user is told: a writer's own message (it names the row and column), else
    the kind of failure — never a path, a line number or a trace."""
    if isinstance(exc, (ValueError, TypeError)) and str(exc):
        return str(exc)[:500]
    if is_transient(exc):
        return "The database or the file store could not be reached"
    return f"Internal error while writing the export ({type(exc).__name__})"


def run_export(log_id: str, *, retry_transient: bool = False) -> ExportLog | None:
    """Write the entry's file and record the outcome; None when the entry is not
    Processing, another worker holds it, or another worker took it over meanwhile.

    The entry is claimed with a lease that a heartbeat renews while the file is written;
    if this process dies, the sweeper hands the entry to another worker once the lease
    runs out. Safe to run twice: the file is written under a fixed key (replaced
    atomically) and only the lease holder finishes the entry. With `retry_transient`, a
    transient failure is raised for the queue to retry instead of failing the entry.
    """
    db = get_database()
    owner = new_owner()
    entry = state.claim(db, log_id, owner)
    if entry is None:
        return None

    try:
        with Heartbeat(
            lambda until: state.renew(db, log_id, owner, until), export=log_id
        ) as heartbeat:

            def progress(_rows: int) -> None:  # a run whose export was taken over stops
                heartbeat.check()

            plan = ExportPlan.from_json(entry.params["plan"])
            key, stem = file_key(entry, plan)
            with get_storage().writer(key) as target:
                written = writing.write_export(db, plan, target, stem=stem, progress=progress)
                heartbeat.check()  # never replace the file the newer run writes
    except LeaseLost:
        log.warning("export taken over by a newer run", extra={"export": log_id})
        return None
    except HandBack:  # this worker stops: another one writes the file from the start
        state.release(db, log_id, owner)
        enqueue("export", log_id)
        log.info("export handed back", extra={"export": log_id})
        return None
    except Exception as exc:
        if retry_transient and is_transient(exc):
            state.release(db, log_id, owner)
            raise
        log.exception("export failed", extra={"export": log_id})
        return state.finish(log_id, owner, status="Failed", error=failure_reason(exc))
    try:
        return state.finish(
            log_id,
            owner,
            status="Done",
            file_key=key,
            total=written.total,
            last_id=written.last_id,
            last_field=plan.columns[-1].id if plan.columns else None,
        )
    except Exception as exc:  # the file is written; the record of it did not commit
        if retry_transient and is_transient(exc):
            try:
                state.release(db, log_id, owner)
            except Exception:  # the database may still be away: the lease runs out instead
                log.warning("export not handed back", extra={"export": log_id}, exc_info=True)
        raise
