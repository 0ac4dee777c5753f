"""The sweeper: takes over work whose worker died, re-enqueues work whose queue message
was lost, and fails work out of attempts — for imports and exports alike (which is why
it lives here, above both)."""

from __future__ import annotations

import logging
import threading

from loadbay.db import get_database
from loadbay.exports.tasks import count_unclaimed as count_unclaimed_exports
from loadbay.exports.tasks import sweep_exports
from loadbay.ids import utcnow
from loadbay.imports import pipeline, state
from loadbay.queue import enqueue, huey, queue_depth
from loadbay.settings import get_settings
from loadbay.webhooks.tasks import enqueue_due

log = logging.getLogger("loadbay.worker")


def sweep() -> dict[str, int]:
    """Re-enqueue work whose worker died (lease expired) or whose queue message was lost:
    import plans, chunks and finalizes, and background exports (`sweep_exports`); fail
    the work that is out of attempts.

    Work a dead worker held (a lease owner, expired) is always re-enqueued. Work that
    was never claimed may just be waiting behind a backlog: it is re-enqueued only when
    the queue holds fewer messages than there is such work, i.e. some were lost."""
    now = utcnow()
    db = get_database()
    with db.read() as session:
        unclaimed = state.count_unclaimed(session, now)
    unclaimed += count_unclaimed_exports(now)
    depth = queue_depth()
    lost = unclaimed > 0 and (depth < 0 or depth < unclaimed)
    with db.write() as session:
        swept = state.sweep(session, now, lost=lost)
    for job_id, phase, attempts, error in swept.exhausted_jobs:
        pipeline.fail_job(job_id, state.out_of_attempts(phase, attempts, error))
    for chunk_id, attempts, error in swept.exhausted_chunks:
        pipeline.fail_chunk(chunk_id, error or state.WORKER_STOPPED, attempts)
    for job_id in swept.plans:
        enqueue("plan", job_id)
    for chunk_id, seq in swept.chunks:
        enqueue("chunk", chunk_id, priority=-seq)
    for job_id in swept.finalizes:
        enqueue("finalize", job_id)
    counts = {
        "plans": len(swept.plans),
        "chunks": len(swept.chunks),
        "finalizes": len(swept.finalizes),
        "exports": sweep_exports(now, lost=lost),
        "failed": len(swept.exhausted_jobs) + len(swept.exhausted_chunks),
        "webhooks": enqueue_due(now, overdue=get_settings().sweep_interval_seconds),
    }
    if any(counts.values()):
        log.info("sweep re-enqueued", extra=counts)
    return counts


def sweep_forever(interval: float, stop: threading.Event) -> None:
    """The sweeper loop a worker runs beside its consumer (Huey's periodic tasks are
    minute-grained; a lease of seconds wants a sweep of seconds)."""
    while not stop.wait(interval):
        try:
            sweep()
        except Exception:  # a database hiccup must not end the loop
            log.exception("sweep failed")


def sweep_on_start() -> None:
    """A worker that starts (say, to replace a dead one) picks up what has gone stale at once."""
    try:
        sweep()
    except Exception:  # the database may still be coming up; the periodic sweep retries
        log.exception("startup sweep failed")


huey.on_startup()(sweep_on_start)
