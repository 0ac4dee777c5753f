"""Huey tasks of the import pipeline. They take ids, reload state, and are safe to run twice."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import sqlalchemy as sa

from loadbay.db import get_database, table_of
from loadbay.exports.tasks import count_unclaimed, sweep_exports
from loadbay.ids import utcnow
from loadbay.imports import finalize, pipeline
from loadbay.imports.models import ImportChunk, ImportJob
from loadbay.queue import huey, queue_depth
from loadbay.settings import get_settings
from loadbay.webhooks.tasks import enqueue_due

log = logging.getLogger("loadbay.imports")
CHUNK_RETRIES = 3
jobs = table_of(ImportJob)
chunks = table_of(ImportChunk)


PLAN_ATTEMPTS = 10


@huey.task(retries=2, retry_delay=2)
def plan_task(job_id: str) -> None:
    """A file that cannot be read fails the job inside plan_job (no retry turns it into a
    success); any other error is taken for an outage (database, queue, store) and retried,
    by Huey and then by the sweeper, until PLAN_ATTEMPTS claims have failed."""
    try:
        pipeline.plan_job(job_id)
    except Exception as exc:
        log.exception("plan failed", extra={"job": job_id})
        try:
            with get_database().read() as session:
                attempts = (
                    session.scalar(sa.select(ImportJob.attempts).where(ImportJob.id == job_id)) or 0
                )
            if attempts >= PLAN_ATTEMPTS:
                pipeline.fail_job(job_id, f"Import could not be planned: {type(exc).__name__}")
                return
            with get_database().write() as session:  # release the lease so a retry can claim it
                session.execute(
                    jobs.update()
                    .where(jobs.c.id == job_id, jobs.c.phase == "planning")
                    .values(lease_owner=None, lease_expires=utcnow())
                )
        except Exception:  # the database is still away: the lease expires on its own
            log.exception("plan lease not released", extra={"job": job_id})
        raise


@huey.task(retries=CHUNK_RETRIES, retry_delay=1)
def chunk_task(chunk_id: str) -> None:
    try:
        pipeline.run_chunk(chunk_id)
    except Exception as exc:
        with get_database().read() as session:
            attempts = (
                session.scalar(sa.select(ImportChunk.attempts).where(ImportChunk.id == chunk_id))
                or 0
            )
        log.exception("chunk failed", extra={"chunk": chunk_id, "attempts": attempts})
        if attempts > CHUNK_RETRIES:
            pipeline.fail_chunk(chunk_id, type(exc).__name__)
            return
        raise


@huey.task(retries=3, retry_delay=2)
def finalize_task(job_id: str) -> None:
    finalize.finalize_job(job_id)


def _enqueue_chunk(chunk_id: str, seq: int) -> None:
    # Early chunks of every job go first, so one big import cannot starve the others.
    chunk_task(chunk_id, priority=-seq)


def _enqueue_finalize(job_id: str) -> None:
    finalize_task(job_id)


pipeline.enqueue_chunk = _enqueue_chunk
pipeline.enqueue_finalize = _enqueue_finalize


def enqueue_plan(job_id: str) -> None:
    plan_task(job_id)


def sweep() -> dict[str, int]:
    """Re-enqueue work whose worker died (lease expired) or whose queue message was lost:
    import plans, chunks and finalizes, and background exports (`sweep_exports`).

    Work a dead worker held (a lease owner, expired) is always re-enqueued. Work that
    was never claimed may just be waiting behind a backlog: it is re-enqueued only when
    the queue holds fewer messages than there is such work, i.e. some were lost."""
    now = utcnow()
    later = now + timedelta(seconds=get_settings().lease_seconds)
    db = get_database()
    with db.read() as session:
        unclaimed = (
            session.scalar(
                sa.select(sa.func.count())
                .select_from(ImportChunk)
                .where(
                    ImportChunk.state == "pending",
                    ImportChunk.lease_owner.is_(None),
                    ImportChunk.lease_expires < now,
                )
            )
            or 0
        ) + (
            session.scalar(
                sa.select(sa.func.count())
                .select_from(ImportJob)
                .where(
                    ImportJob.confirmed.is_(True),
                    ImportJob.phase == "queued",
                    ImportJob.lease_expires < now,
                )
            )
            or 0
        )
    unclaimed += count_unclaimed(now)
    depth = queue_depth()
    lost = unclaimed > 0 and (depth < 0 or depth < unclaimed)
    with db.write() as session:
        stale_plan = sa.and_(ImportJob.phase == "planning", ImportJob.lease_owner.is_not(None))
        queued_plan = ImportJob.phase == "queued"
        plan_ids = session.scalars(
            sa.update(ImportJob)
            .where(
                ImportJob.confirmed.is_(True),
                sa.or_(
                    stale_plan,
                    sa.and_(queued_plan, sa.true() if lost else sa.false()),
                    sa.and_(ImportJob.phase == "planning", ImportJob.lease_owner.is_(None)),
                ),
                sa.or_(ImportJob.lease_expires.is_(None), ImportJob.lease_expires < now),
            )
            .values(lease_owner=None, lease_expires=later)
            .returning(ImportJob.id)
        ).all()
        owned = ImportChunk.lease_owner.is_not(None)
        chunk_rows = session.execute(
            sa.update(ImportChunk)
            .where(
                ImportChunk.state == "pending",
                ImportChunk.lease_expires < now,
                sa.or_(owned, sa.true() if lost else sa.false()),
            )
            .values(lease_owner=None, lease_expires=later, requeued=ImportChunk.requeued + 1)
            .returning(ImportChunk.id, ImportChunk.seq)
        ).all()
        final_ids = session.scalars(
            sa.select(ImportJob.id).where(
                sa.or_(
                    sa.and_(
                        ImportJob.phase == "running",
                        ImportJob.processed_chunks >= ImportJob.total_chunks,
                    ),
                    sa.and_(ImportJob.phase == "finalizing", ImportJob.lease_expires < now),
                )
            )
        ).all()
    for job_id in plan_ids:
        enqueue_plan(job_id)
    for chunk_id, seq in chunk_rows:
        pipeline.enqueue_chunk(chunk_id, seq)
    for job_id in final_ids:
        pipeline.enqueue_finalize(job_id)
    counts = {
        "plans": len(plan_ids),
        "chunks": len(chunk_rows),
        "finalizes": len(final_ids),
        "exports": sweep_exports(now, lost=lost),
        # deliveries due whose scheduled retry (or first enqueue) was lost
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


@huey.on_startup()
def sweep_on_start() -> None:
    """A worker that starts (say, to replace a dead one) picks up what has gone stale at once."""
    try:
        sweep()
    except Exception:  # the database may still be coming up; the periodic sweep retries
        log.exception("startup sweep failed")
