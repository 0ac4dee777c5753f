"""Writing an export-log entry's file: claimed with a lease a heartbeat renews, written
under a fixed key, and finished (Done or Failed) only by the claim that still holds it.
The API's direct exports (in a worker process, `loadbay.exports.direct`), the queue's
background task and the CLI all run it."""

from __future__ import annotations

import logging

from loadbay.db import get_database
from loadbay.exports import state, writing
from loadbay.exports.models import ExportLog
from loadbay.exports.plan import ExportPlan
from loadbay.ids import new_owner
from loadbay.leases import HandBack, Heartbeat, LeaseLost, is_transient
from loadbay.queue import enqueue
from loadbay.storage import get_storage

log = logging.getLogger("loadbay.exports")


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
