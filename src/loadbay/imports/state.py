"""The import state machine: every claim, lease renewal, hand-back, attempt and done mark.

A job moves queued → planning → running → finalizing → done; its chunks pending → done
(or cancelled). Each step is claimed with a conditional UPDATE that takes a lease and
counts an attempt; the count rises again when the lease runs out (the claim that takes
it over counts) or the step raises, and is given back for a transient outage or a
graceful hand-back (DECISIONS, "Attempts"). A step out of attempts ends the job (or, for
a chunk, its rows) with the last error, and is never handed out again.

No other module writes `lease_owner`, `lease_expires`, `attempts`, `last_error`, `phase`
or the progress counters of these tables.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from loadbay.db import get_database, rowcount, table_of
from loadbay.ids import utcnow
from loadbay.imports import fair
from loadbay.imports.events import import_event
from loadbay.imports.models import ImportChunk, ImportJob
from loadbay.leases import error_text, is_transient
from loadbay.settings import get_settings

log = logging.getLogger("loadbay.imports")
jobs = table_of(ImportJob)
chunks = table_of(ImportChunk)

WORKER_STOPPED = "the worker running it stopped before it finished (its lease ran out)"


# Claims of chunks and plans queue behind one another on PostgreSQL, as SQLite's writer
# turn makes them do there: what a claim counts (chunks in flight, plans running) stays
# true until it commits, so two claims never both take an organisation's last place.
CLAIM_LOCK = 0x6C6F_6164_6261_79  # "loadbay"


def lease_seconds() -> int:
    return get_settings().lease_seconds


def lease_until(now: datetime | None = None) -> datetime:
    return (now or utcnow()) + timedelta(seconds=lease_seconds())


def max_attempts() -> int:
    return get_settings().max_attempts


def _open(lease_owner: Any, lease_expires: Any, now: datetime) -> Any:
    return sa.or_(lease_owner.is_(None), lease_expires < now)


# ---- the job: confirm and cancel (the API's side) ----------------------------------------


def confirm(session: Session, job_id: str, **values: Any) -> bool:
    """A preview becomes queued work; its expiry is now, so a lost queue message is swept."""
    now = utcnow()
    return bool(
        rowcount(
            session.execute(
                jobs.update()
                .where(jobs.c.id == job_id, jobs.c.confirmed.is_(False), jobs.c.phase == "preview")
                .values(
                    confirmed=True, phase="queued", lease_expires=now, updated_time=now, **values
                )
            )
        )
    )


def cancel(session: Session, job_id: str, who: str, *, running: bool = False) -> str | None:
    """Stop a job not yet started at once ("stopped"), or, with `running`, flag one under
    way to stop after the chunk in flight ("flagged"); None when neither applies."""
    now = utcnow()
    flag = {
        "cancel_requested": True,
        "cancelled_by": sa.func.coalesce(jobs.c.cancelled_by, who),
        "cancelled_at": sa.func.coalesce(jobs.c.cancelled_at, now),
        "updated_by": who,
        "updated_time": now,
    }
    if not running:
        stopped = session.execute(
            jobs.update()
            .where(jobs.c.id == job_id, jobs.c.phase.in_(("preview", "queued")))
            .values(
                status="cancelled",
                phase="done",
                processed_at=now,
                lease_owner=None,
                lease_expires=None,
                **flag,
            )
        )
        if not rowcount(stopped):
            return None
        import_event(session, job_id)  # the webhook's outbox row commits with the status
        return "stopped"
    # Once every chunk is written there is nothing left to stop: the job is finishing.
    unfinished = sa.or_(
        jobs.c.phase == "planning",
        sa.and_(jobs.c.phase == "running", jobs.c.processed_chunks < jobs.c.total_chunks),
    )
    flagged = session.execute(jobs.update().where(jobs.c.id == job_id, unfinished).values(**flag))
    return "flagged" if rowcount(flagged) else None


# ---- the job: plan and finalize ---------------------------------------------------------


def _planning_elsewhere(now: datetime) -> Any:
    """Another job of the same organisation holds a live plan lease."""
    other = jobs.alias("other")
    return sa.exists().where(
        other.c.organization_id == jobs.c.organization_id,
        other.c.id != jobs.c.id,
        other.c.phase == "planning",
        other.c.lease_owner.is_not(None),
        other.c.lease_expires >= now,
    )


def claim_job(session: Session, job_id: str, owner: str, phase: str) -> bool:
    """Claim a job's plan (`phase` "planning") or finalize ("finalizing") step: from the
    phase before it, or from the same phase when its lease ran out.

    An organisation plans one file at a time: a plan holds a worker for as long as its
    file takes to read, and two big uploads of one organisation would otherwise hold
    both workers of a small deployment while another's small upload waits. A plan
    refused for that stays queued; the organisation's plan in flight enqueues it when
    it ends (`next_queued`)."""
    now = utcnow()
    values: dict[str, Any] = {}
    if phase == "planning":
        conn = session.connection()
        if conn.dialect.name == "postgresql":  # two claims must not both see none planning
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(CLAIM_LOCK)))
        ready: Any = sa.and_(
            jobs.c.phase == "queued", jobs.c.confirmed.is_(True), ~_planning_elsewhere(now)
        )
        values = {"started_at": sa.func.coalesce(jobs.c.started_at, now), "updated_time": now}
    elif phase == "finalizing":
        ready = sa.and_(jobs.c.phase == "running", jobs.c.processed_chunks >= jobs.c.total_chunks)
    else:
        raise ValueError(f"no job step is claimed as {phase!r}")
    taken_over = sa.and_(
        jobs.c.phase == phase,
        jobs.c.confirmed.is_(True),
        _open(jobs.c.lease_owner, jobs.c.lease_expires, now),
    )
    if phase == "planning":  # one plan at a time holds for a takeover too
        taken_over = sa.and_(taken_over, ~_planning_elsewhere(now))
    return bool(
        rowcount(
            session.execute(
                jobs.update()
                .where(
                    jobs.c.id == job_id,
                    jobs.c.attempts < max_attempts(),
                    sa.or_(ready, taken_over),
                )
                .values(
                    phase=phase,
                    lease_owner=owner,
                    lease_expires=lease_until(now),
                    attempts=jobs.c.attempts + 1,
                    **values,
                )
            )
        )
    )


def next_queued(session: Session, job_id: str) -> str | None:
    """The oldest upload waiting for its plan in the same organisation as `job_id`."""
    org = sa.select(jobs.c.organization_id).where(jobs.c.id == job_id).scalar_subquery()
    found = session.scalar(
        sa.select(jobs.c.id)
        .where(
            jobs.c.organization_id == org,
            jobs.c.phase == "queued",
            jobs.c.confirmed.is_(True),
            jobs.c.id != job_id,
        )
        .order_by(jobs.c.created_time, jobs.c.id)
        .limit(1)
    )
    return str(found) if found is not None else None


def renew_job(job_id: str, phase: str, owner: str, until: datetime) -> bool:
    with get_database().write() as session:
        return bool(
            rowcount(
                session.execute(
                    jobs.update()
                    .where(jobs.c.id == job_id, jobs.c.phase == phase, jobs.c.lease_owner == owner)
                    .values(lease_expires=until)
                )
            )
        )


def renew_job_in(session: Session, job_id: str, owner: str, **values: Any) -> None:
    """Renew inside a transaction the step opened anyway (the plan's chunk records, with
    the running totals as `values`)."""
    session.execute(
        jobs.update()
        .where(jobs.c.id == job_id, jobs.c.lease_owner == owner)
        .values(lease_expires=lease_until(), **values)
    )


def release_job(job_id: str, phase: str, owner: str, *, error: str | None, counts: bool) -> int:
    """Hand a plan or finalize back; answers the attempts counted so far.

    `counts=False` (a transient outage, a graceful stop) gives the attempt back. The
    expiry stays a lease ahead: the queue's own retry (with its back-off) claims it
    first, and the sweeper only if that retry never comes."""
    with get_database().write() as session:
        values: dict[str, Any] = {"lease_owner": None, "lease_expires": lease_until()}
        if not counts:
            values["attempts"] = jobs.c.attempts - 1
        if error is not None:
            values["last_error"] = error
        row = session.execute(
            jobs.update()
            .where(jobs.c.id == job_id, jobs.c.phase == phase, jobs.c.lease_owner == owner)
            .values(**values)
            .returning(jobs.c.attempts)
        ).first()
    return int(row[0]) if row is not None else 0


def cancel_claimed(session: Session, job_id: str) -> None:
    now = utcnow()
    session.execute(
        jobs.update()
        .where(jobs.c.id == job_id)
        .values(status="cancelled", phase="done", processed_at=now, lease_owner=None)
    )
    import_event(session, job_id)


def record_plan_columns(
    job_id: str,
    headers: list[str],
    mapping: list[dict[str, str]],
    match: str | None,
    **values: Any,
) -> None:
    """The columns the plan resolved, and (`values`) the job's options and sheet."""
    with get_database().write() as session:
        session.execute(
            jobs.update()
            .where(jobs.c.id == job_id)
            .values(headers=headers, mapping=mapping, match_field=match, **values)
        )


def plan_done(
    job_id: str, owner: str, total_rows: int, total_chunks: int, stopped: str | None
) -> int | None:
    """The plan's outcome; answers the chunks already processed (None: the lease was lost).
    The attempt count starts again for the finalize step."""
    with get_database().write() as session:
        row = session.execute(
            jobs.update()
            .where(jobs.c.id == job_id, jobs.c.phase == "planning", jobs.c.lease_owner == owner)
            .values(
                phase="running",
                total_rows=total_rows,
                total_chunks=total_chunks,
                error_message=stopped,
                lease_owner=None,
                lease_expires=None,
                attempts=0,
                last_error=None,
                updated_time=utcnow(),
            )
            .returning(jobs.c.processed_chunks)
        ).first()
    return int(row[0]) if row is not None else None


def finalize_done(
    job_id: str,
    owner: str,
    status: str,
    failed_key: str | None,
    not_imported_key: str | None,
    **counts: Any,
) -> bool:
    """The job's outcome; `counts` are the final counts of a cancelled job (what was
    written) and the errorMessage of a failed one."""
    done = utcnow()
    with get_database().write() as session:
        finished = rowcount(
            session.execute(
                jobs.update()
                .where(
                    jobs.c.id == job_id,
                    jobs.c.phase == "finalizing",
                    jobs.c.lease_owner == owner,
                )
                .values(
                    phase="done",
                    status=status,
                    processed_at=done,
                    failed_key=failed_key,
                    not_imported_key=not_imported_key,
                    lease_owner=None,
                    lease_expires=None,
                    updated_time=done,
                    updated_by="system",
                    **counts,
                )
            )
        )
        if finished:  # the webhook's outbox row commits with the status
            import_event(session, job_id)
    return bool(finished)


def fail_job(job_id: str, message: str) -> None:
    now = utcnow()
    with get_database().write() as session:
        # Chunks not yet written will not be: the job's counts stay true to what was.
        session.execute(
            chunks.update()
            .where(chunks.c.job_id == job_id, chunks.c.state == "pending")
            .values(state="cancelled", lease_owner=None)
        )
        ended = session.execute(
            jobs.update()
            .where(jobs.c.id == job_id, jobs.c.phase != "done")
            .values(
                status="failed",
                phase="done",
                error_message=message,
                total_chunks=jobs.c.processed_chunks,  # the chunks cancelled above never ran
                processed_at=now,
                updated_time=now,
                updated_by="system",
                lease_owner=None,
            )
        )
        if rowcount(ended):
            import_event(session, job_id)
    log.info("job failed", extra={"job": job_id, "reason": message})


def step_failed(job_id: str, phase: str, owner: str, exc: BaseException) -> bool:
    """A plan or finalize that raised: hand it back, counted unless the error is transient;
    out of attempts, the job fails with this error (answers True: nothing to retry)."""
    transient = is_transient(exc)
    log.warning(
        "step failed", extra={"job": job_id, "step": phase, "transient": transient}, exc_info=exc
    )
    try:
        attempts = release_job(job_id, phase, owner, error=error_text(exc), counts=not transient)
        if not transient and attempts >= max_attempts():
            fail_job(job_id, out_of_attempts(phase, attempts, error_text(exc)))
            return True
    except Exception:  # the database is away: the lease runs out and the sweeper retries
        log.exception("step not handed back", extra={"job": job_id, "step": phase})
    return False


def out_of_attempts(step: str, attempts: int, error: str | None) -> str:
    what = {"planning": "planned", "finalizing": "finished"}.get(step, "run")
    return f"The import could not be {what} after {attempts} attempts: {error or WORKER_STOPPED}"


# ---- chunks ------------------------------------------------------------------------------


def add_chunks(
    session: Session,
    job_id: str,
    owner: str,
    planned: list[tuple[int, str, int]],
    **totals: Any,
) -> list[tuple[str, int]]:
    """Record chunks the plan cut; `totals` raise the job's running totalRows/totalChunks."""
    rows = [
        ImportChunk(job_id=job_id, seq=seq, key=key, row_count=n, lease_expires=lease_until())
        for seq, key, n in planned
    ]
    session.add_all(rows)
    renew_job_in(session, job_id, owner, **totals)
    session.flush()
    return [(c.id, c.seq) for c in rows]


@dataclass(frozen=True)
class ChunkClaim:
    chunk_id: str
    # Its organisation has a cap in force: when this chunk ends, a chunk of the same
    # organisation may be waiting for the place it leaves, with no queue message left.
    capped: bool


def claim_chunk(session: Session, owner: str) -> ChunkClaim | None:
    """Claim the chunk fair shares say is next (`fair.pick`), or None when nothing is
    waiting that a claim may take now."""
    now = utcnow()
    limit = max_attempts()
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(CLAIM_LOCK)))
    work = fair.snapshot(session, now, limit)
    caps = fair.caps(session, (w.org for w in work))
    chosen = fair.pick(work, caps)
    if chosen is None:
        return None
    claimable = sa.and_(
        chunks.c.job_id == chosen.job_id,
        chunks.c.state == "pending",
        chunks.c.attempts < limit,
        _open(chunks.c.lease_owner, chunks.c.lease_expires, now),
    )
    chunk_id = session.scalar(
        sa.select(chunks.c.id)
        .where(claimable)
        .order_by(chunks.c.seq)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if chunk_id is None:
        return None
    taken = session.execute(
        chunks.update()
        .where(chunks.c.id == chunk_id, claimable)
        .values(
            lease_owner=owner,
            lease_expires=lease_until(now),
            attempts=chunks.c.attempts + 1,
            claimed_at=now,
        )
    )
    if not rowcount(taken):
        return None
    return ChunkClaim(chunk_id, capped=bool(caps.get(chosen.org)))


def renew_chunk(chunk_id: str, owner: str, until: datetime) -> bool:
    with get_database().write() as session:
        return bool(
            rowcount(
                session.execute(
                    chunks.update()
                    .where(
                        chunks.c.id == chunk_id,
                        chunks.c.state == "pending",
                        chunks.c.lease_owner == owner,
                    )
                    .values(lease_expires=until)
                )
            )
        )


def release_chunk(chunk_id: str, owner: str, *, error: str | None, counts: bool) -> int:
    """Hand a chunk back (see `release_job`); answers its attempts so far. Without an
    owner it may be claimed again at once, by the queue's retry or the hand-back's
    message; the expiry a lease ahead keeps the sweeper from taking it for lost."""
    with get_database().write() as session:
        values: dict[str, Any] = {"lease_owner": None, "lease_expires": lease_until()}
        if not counts:
            values["attempts"] = chunks.c.attempts - 1
        if error is not None:
            values["last_error"] = error
        row = session.execute(
            chunks.update()
            .where(chunks.c.id == chunk_id, chunks.c.lease_owner == owner)
            .values(**values)
            .returning(chunks.c.attempts)
        ).first()
    return int(row[0]) if row is not None else 0


@dataclass
class ChunkCounts:
    created: int
    updated: int
    skipped: int
    failed: int
    rows: int  # rows processed (0 for a cancelled chunk)


def chunk_done(
    conn: Connection,
    chunk_id: str,
    job_id: str,
    owner: str | None,
    counts: ChunkCounts,
    *,
    state: str,
    duration_ms: int | None,
) -> Any:
    """Mark a chunk done and add its counts to the job, in the caller's transaction (the one
    that wrote its rows). Answers the job's (processed_chunks, total_chunks, phase), or None
    when the chunk is no longer this claim's (or no longer pending)."""
    now = utcnow()
    mine = chunks.c.lease_owner == owner if owner is not None else sa.true()
    done = rowcount(
        conn.execute(
            chunks.update()
            .where(chunks.c.id == chunk_id, chunks.c.state == "pending", mine)
            .values(
                duration_ms=duration_ms,
                state=state,
                lease_owner=None,
                done_time=now,
                created_count=counts.created,
                updated_count=counts.updated,
                skipped_count=counts.skipped,
                failed_count=counts.failed,
            )
        )
    )
    if done != 1:
        return None
    return conn.execute(
        jobs.update()
        .where(jobs.c.id == job_id)
        .values(
            processed_chunks=jobs.c.processed_chunks + 1,
            processed_rows=jobs.c.processed_rows + counts.rows,
            created_count=jobs.c.created_count + counts.created,
            updated_count=jobs.c.updated_count + counts.updated,
            skipped_count=jobs.c.skipped_count + counts.skipped,
            failed_count=jobs.c.failed_count + counts.failed,
            updated_time=now,
            updated_by="system",
        )
        .returning(jobs.c.processed_chunks, jobs.c.total_chunks, jobs.c.phase)
    ).one()


def note_job_error(conn: Connection, job_id: str, message: str) -> None:
    """The first reason some rows were not imported, when nothing else said why."""
    conn.execute(
        jobs.update()
        .where(jobs.c.id == job_id, jobs.c.error_message.is_(None))
        .values(error_message=message)
    )


# ---- the sweeper -------------------------------------------------------------------------


@dataclass
class Swept:
    plans: list[str]
    chunks: list[tuple[str, int]]
    finalizes: list[str]
    exhausted_jobs: list[tuple[str, str, int, str | None]]  # id, phase, attempts, last error
    exhausted_chunks: list[tuple[str, int, str | None]]  # id, attempts, last error


def count_unclaimed(session: Session, now: datetime) -> int:
    """Work no worker holds and whose queue message may have been lost. Chunks held
    back by their organisation's cap, and uploads waiting for its plan in flight, are
    not counted: they wait for its work in flight to end, not for a message."""
    work = fair.snapshot(session, now, max_attempts())
    caps = fair.caps(session, (w.org for w in work))
    pending = fair.unclaimed(work, caps, moving_since=now - timedelta(seconds=lease_seconds()))
    queued = session.scalar(
        sa.select(sa.func.count())
        .select_from(jobs)
        .where(
            jobs.c.confirmed.is_(True),
            jobs.c.phase == "queued",
            jobs.c.lease_expires < now,
            ~_planning_elsewhere(now),
        )
    )
    return pending + int(queued or 0)


def sweep(session: Session, now: datetime, *, lost: bool) -> Swept:
    """Take over work whose lease ran out (the claim that died counted an attempt), and,
    when queue messages were lost, work never claimed. Work out of attempts is returned
    apart, to be failed, and is never handed out again."""
    later = lease_until(now)
    limit = max_attempts()
    expired = sa.or_(ImportJob.lease_expires.is_(None), ImportJob.lease_expires < now)
    in_step = ImportJob.phase.in_(("planning", "finalizing"))
    exhausted_jobs = [
        (r.id, r.phase, r.attempts, r.last_error or WORKER_STOPPED)
        for r in session.execute(
            sa.select(
                ImportJob.id, ImportJob.phase, ImportJob.attempts, ImportJob.last_error
            ).where(in_step, ImportJob.attempts >= limit, expired)
        ).all()
    ]
    dead = ImportJob.lease_owner.is_not(None)
    plan_ids = session.scalars(
        sa.update(ImportJob)
        .where(
            ImportJob.confirmed.is_(True),
            ImportJob.attempts < limit,
            sa.or_(
                ImportJob.phase == "planning",
                sa.and_(ImportJob.phase == "queued", sa.true() if lost else sa.false()),
            ),
            expired,
        )
        .values(
            lease_owner=None,
            lease_expires=later,
            last_error=sa.case((dead, WORKER_STOPPED), else_=ImportJob.last_error),
        )
        .returning(ImportJob.id)
    ).all()
    chunk_expired = ImportChunk.lease_expires < now
    exhausted_chunks = [
        (r.id, r.attempts, r.last_error or WORKER_STOPPED)
        for r in session.execute(
            sa.select(ImportChunk.id, ImportChunk.attempts, ImportChunk.last_error).where(
                ImportChunk.state == "pending", ImportChunk.attempts >= limit, chunk_expired
            )
        ).all()
    ]
    owned = ImportChunk.lease_owner.is_not(None)
    chunk_rows = session.execute(
        sa.update(ImportChunk)
        .where(
            ImportChunk.state == "pending",
            ImportChunk.attempts < limit,
            chunk_expired,
            sa.or_(owned, sa.true() if lost else sa.false()),
        )
        .values(
            lease_owner=None,
            lease_expires=later,
            requeued=ImportChunk.requeued + 1,
            last_error=sa.case((owned, WORKER_STOPPED), else_=ImportChunk.last_error),
        )
        .returning(ImportChunk.id, ImportChunk.seq)
    ).all()
    final_ids = session.scalars(
        sa.select(ImportJob.id).where(
            ImportJob.attempts < limit,
            sa.or_(
                sa.and_(
                    ImportJob.phase == "running",
                    ImportJob.processed_chunks >= ImportJob.total_chunks,
                ),
                sa.and_(ImportJob.phase == "finalizing", ImportJob.lease_expires < now),
            ),
        )
    ).all()
    session.execute(
        sa.update(ImportJob)
        .where(
            ImportJob.id.in_(final_ids),
            ImportJob.phase == "finalizing",
            ImportJob.lease_owner.is_not(None),
        )
        .values(last_error=WORKER_STOPPED)
    )
    return Swept(
        plans=list(plan_ids),
        chunks=[(r[0], r[1]) for r in chunk_rows],
        finalizes=list(final_ids),
        exhausted_jobs=exhausted_jobs,
        exhausted_chunks=exhausted_chunks,
    )
