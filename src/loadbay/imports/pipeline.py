"""The import pipeline: plan → chunks → finalize, each step safe to run twice.

The database row is the truth, not the queue. Every step claims its work with
an atomic UPDATE (a lease), and a chunk's writes, its done mark and the job's
counters commit in one transaction, so a chunk retried after a crash never
writes twice. The plan step hands out chunks while it still reads the file, so
reading and writing overlap.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa

from loadbay.catalog.fields import cell_text
from loadbay.db import get_database, table_of
from loadbay.errors import ApiError
from loadbay.gcpause import paused_gc
from loadbay.ids import new_owner, utcnow
from loadbay.imports import mapping, state
from loadbay.imports.counters import running_totals
from loadbay.imports.dedupe import KeyIndex
from loadbay.imports.invalid_rule import check_invalid_rule, no_data_rows
from loadbay.imports.journal import Journal
from loadbay.imports.limits import limits as limits  # the console reads previews with them
from loadbay.imports.models import ImportChunk, ImportJob, ImportRowIssue
from loadbay.imports.review import Edited
from loadbay.imports.review_rows import apply_edits
from loadbay.imports.target import Target, check_match_field, load_target
from loadbay.imports.validate import Checked, compile_batch_validator
from loadbay.imports.values import remembered_value_map, rules_of
from loadbay.imports.writes import WriteContext, prepare, write_rows
from loadbay.leases import HandBack, Heartbeat, LeaseLost, error_text, is_transient
from loadbay.queue import enqueue
from loadbay.settings import get_settings
from loadbay.storage import get_storage
from loadbay.tabular.readers import TableError, chunk_cell, open_table, restore_chunk_cells

log = logging.getLogger("loadbay.imports")


fail_job = state.fail_job


def _target_of(session: Any, job: ImportJob) -> Target:
    target_id = job.data_type_id if job.type == "datasource" else job.flow_id
    return load_target(session, job.organization_id, job.type, str(target_id))


# ---- plan --------------------------------------------------------------------------------


def plan_job(job_id: str) -> None:
    """Claim and run the plan step. A file that cannot be read fails the job; any other
    error is counted as an attempt (unless transient) and raised for the queue to retry,
    until the step is out of attempts and the job fails with that error. However it
    ends, the organisation's next upload, which waited for this plan, is enqueued."""
    db = get_database()
    owner = new_owner()
    with db.write() as session:
        claimed = state.claim_job(session, job_id, owner, "planning")
        job = session.get(ImportJob, job_id)
        if not claimed or job is None:
            return
        cancelled = job.cancel_requested
        if cancelled:
            state.cancel_claimed(session, job_id)
        else:
            target = _target_of(session, job)
            done_seqs = set(
                session.scalars(sa.select(ImportChunk.seq).where(ImportChunk.job_id == job_id))
            )
    try:
        if not cancelled:
            _run_plan(job, target, done_seqs, owner)
    finally:
        _plan_next(job_id)


def _plan_next(job_id: str) -> None:
    """An organisation plans one upload at a time (`state.claim_job`): its next one
    waited for this plan, perhaps with no queue message left (one that came meanwhile
    was refused). Should this fail, the sweeper finds that upload instead."""
    try:
        with get_database().read() as session:
            following = state.next_queued(session, job_id)
        if following is not None:
            enqueue("plan", following)
    except Exception:
        log.exception("next plan not enqueued", extra={"job": job_id})


def _run_plan(job: ImportJob, target: Target, done_seqs: set[int], owner: str) -> None:
    job_id = job.id
    log.info("plan start", extra={"job": job_id, "format": job.file_format})
    started = time.perf_counter()
    try:
        with (
            Heartbeat(
                lambda until: state.renew_job(job_id, "planning", owner, until), job=job_id
            ) as beat,
            paused_gc(),
        ):
            total_rows, total_chunks, stopped = _plan(job, target, done_seqs, owner, beat)
    except LeaseLost:
        log.warning("plan lease lost; the newer claim plans the job", extra={"job": job_id})
        return
    except HandBack:
        state.release_job(job_id, "planning", owner, error=None, counts=False)
        enqueue("plan", job_id)  # another worker re-plans at once, skipping recorded chunks
        log.info("plan handed back", extra={"job": job_id})
        return
    except (TableError, ApiError) as exc:
        fail_job(job_id, getattr(exc, "message", None) or str(exc))
        return
    except Exception as exc:
        if state.step_failed(job_id, "planning", owner, exc):
            return
        raise
    processed = state.plan_done(job_id, owner, total_rows, total_chunks, stopped)
    log.info(
        "plan done",
        extra={
            "job": job_id,
            "rows": total_rows,
            "chunks": total_chunks,
            "seconds": round(time.perf_counter() - started, 2),
        },
    )
    if processed is not None and processed >= total_chunks:
        enqueue("finalize", job_id)


def _plan(
    job: ImportJob, target: Target, done_seqs: set[int], owner: str, beat: Heartbeat
) -> tuple[int, int, str | None]:
    """Cut the file into chunks; returns (rows, chunks, why reading stopped early or None).

    A read error after some chunks were handed out does not fail the job: what was read
    is imported and counted, and the job ends `partially` (or `failed`) saying where
    and why reading stopped."""
    settings = get_settings()
    storage = get_storage()
    size = settings.chunk_size
    columns: dict[str, int] = {}
    with (
        storage.local_copy(job.file_key) as path,
        open_table(
            path,
            job.file_format,
            has_header_row=job.has_header_row,
            sheet=job.sheet_name,
            limits=limits(),
            dates_as_text=True,
            header_row=(job.options or {}).get("headerRow"),
        ) as table,
    ):
        headers = table.headers
        history, remembered = _memory(job, target)
        resolved = mapping.resolve_for_job(
            headers, target.specs, job.mapping, job.options, history=history
        )
        columns = resolved.columns
        match = check_match_field(target, job.match_field)
        key_col = columns.get(match) if match else None
        options = {**(job.options or {}), "ignoredColumns": resolved.ignored, **remembered}
        job.options = options  # the whole-file check below reads the remembered value map
        if table.header_row is not None:  # the monitoring record says which rows were skipped
            options.update(headerRow=table.header_row, rowsAboveHeader=table.rows_above_header)
        state.record_plan_columns(
            job.id,
            headers,
            resolved.items(),
            match,
            options=options,
            sheet_name=table.sheet or job.sheet_name,
        )
        # invalidRows=block / maxInvalid: every row is validated before any chunk exists.
        edited = Edited(job.id, list(headers))  # keys and the rule read the review's edits
        check_invalid_rule(job, target, table, columns, key_col, edited)
        seq = 0
        total = 0
        stopped: str | None = None
        cancelled = False
        batch: list[list[Any]] = []
        recorder = _Recorder(job, owner)
        with KeyIndex() as seen:
            try:
                for number, cells in table.rows():
                    batch.append([number, cells, 0])
                    if len(batch) >= size:
                        beat.check()
                        _emit(job, seq, batch, key_col, seen, done_seqs, recorder, edited)
                        total += len(batch)
                        seq += 1
                        batch = []
                        if seq % 10 == 0 and _cancel_requested(job.id):
                            cancelled = True
                            stopped = (
                                f"Cancelled after row {number}; the rows after it were not read"
                            )
                            break
            except TableError as exc:
                if total == 0 and not batch:
                    raise
                stopped = f"{exc.message}; the rows after it were not read"
            if batch and not cancelled:
                _emit(job, seq, batch, key_col, seen, done_seqs, recorder, edited)
                total += len(batch)
                seq += 1
        recorder.flush(wait=True)
    if total == 0:
        raise TableError("import-015", no_data_rows(table.sheet, table.header_row, table.sheets))
    return total, seq, stopped


def _memory(job: ImportJob, target: Target) -> tuple[list[Any], dict[str, Any]]:
    """With `useMemory`, what the preview would have suggested: earlier confirmed
    mappings (when the job has none) and value maps (when it has none), so an import
    without a preview reads the file as the preview of it showed."""
    options = job.options or {}
    if not options.get("useMemory"):
        return [], {}
    from loadbay.imports.queries import mapping_history

    with get_database().read() as session:
        history = [] if job.mapping else mapping_history(session, job.organization_id, target)
        remembered = {}
        if not options.get("valueMap"):
            found = remembered_value_map(session, job.organization_id, target)
            remembered = {"valueMap": found} if found else {}
    return history, remembered


def _cancel_requested(job_id: str) -> bool:
    with get_database().read() as session:
        return bool(
            session.scalar(sa.select(ImportJob.cancel_requested).where(ImportJob.id == job_id))
        )


PENDING_CHUNKS = 8  # chunk files the plan step may hold back before it waits for the lock


class _Recorder:
    """Records the plan's chunk files and hands them to the queue, without making the
    plan step queue for SQLite's write turn behind every chunk commit: a chunk is
    recorded when the turn is free, or when `PENDING_CHUNKS` wait (measured: waiting
    for the turn at every chunk stretched reading a 1M-row CSV from ~7 s to 14 s)."""

    def __init__(self, job: ImportJob, owner: str) -> None:
        self.job, self.owner = job, owner
        self.pending: list[tuple[int, str, int]] = []  # seq, file key, rows
        self.rows = self.chunks = 0  # recorded so far: the totals' running estimate

    def add(self, seq: int, key: str, rows: int) -> None:
        self.pending.append((seq, key, rows))
        self.flush(wait=len(self.pending) >= PENDING_CHUNKS)

    def flush(self, *, wait: bool) -> None:
        if not self.pending:
            return
        db = get_database()
        with db.write() if wait else db.try_write() as session:
            if session is None:
                return
            rows = self.rows + sum(rows for _seq, _key, rows in self.pending)
            seqs = max(self.chunks, max(seq for seq, _key, _rows in self.pending) + 1)
            handed = state.add_chunks(
                session, self.job.id, self.owner, self.pending, **running_totals(rows, seqs)
            )
        self.pending = []
        self.rows, self.chunks = rows, seqs
        for chunk_id, seq in handed:
            # Early chunks of every job go first, so one big import cannot starve the others.
            enqueue("chunk", chunk_id, priority=-seq)


def _emit(
    job: ImportJob,
    seq: int,
    batch: list[list[Any]],
    key_col: int | None,
    seen: KeyIndex,
    done_seqs: set[int],
    recorder: _Recorder,
    edited: Edited,
) -> None:
    """Write one chunk file and have it recorded and queued (see `_Recorder`)."""
    if key_col is not None:
        rows = edited.rows([(r[0], r[1]) for r in batch])
        keyed = [
            (cell_text(c[key_col]), n)
            for n, c in rows
            if key_col < len(c) and c[key_col] not in (None, "")
        ]
        dupes = seen.first_rows(keyed)
        if dupes:
            by_number = {r[0]: r for r in batch}
            for row, first in dupes.items():
                by_number[row][2] = first
    if seq in done_seqs:  # a re-run plan: this chunk was recorded before the crash
        return
    key = f"{job.organization_id}/imports/{job.id}/chunks/{seq:06d}.json"
    with get_storage().writer(key) as out:
        out.write(orjson.dumps(batch, default=chunk_cell, option=orjson.OPT_PASSTHROUGH_SUBCLASS))
    recorder.add(seq, key, len(batch))


# ---- chunks ------------------------------------------------------------------------------


@dataclass
class Claimed:
    """A chunk this worker holds, with what writing it needs."""

    claim: state.ChunkClaim
    owner: str
    chunk: ImportChunk
    job: ImportJob
    target: Target
    claimed_at: float  # perf_counter when the claim began


def claim_next() -> Claimed | None:
    """Claim the chunk that is next by fair shares (`imports.fair`), whichever chunk's
    message brought this worker here; None when nothing may be claimed now."""
    started = time.perf_counter()
    owner = new_owner()
    with get_database().write() as session:
        claim = state.claim_chunk(session, owner)
        if claim is None:
            return None
        chunk = session.get(ImportChunk, claim.chunk_id)
        assert chunk is not None
        job = session.get(ImportJob, chunk.job_id)
        assert job is not None
        target = _target_of(session, job)
        session.expunge_all()
    return Claimed(claim, owner, chunk, job, target, started)


def run_chunk(hint: str | None = None) -> int:
    """Claim and write the next chunk (a queue message only says there is work: `hint`,
    the chunk it was sent for, is not what decides); answers the attempts so far of a
    chunk that raised (0 otherwise, also when nothing was claimed)."""
    claimed = claim_next()
    return run_claimed(claimed) if claimed is not None else 0


def run_claimed(claimed: Claimed) -> int:
    """Write a claimed chunk. An error is handed back counted (unless transient) and
    raised for the queue to retry. A chunk of a capped organisation that ends sends a
    message on, for the chunk its place was waiting for."""
    chunk, job, owner = claimed.chunk, claimed.job, claimed.owner
    chunk_id = chunk.id
    started = time.perf_counter()
    try:
        with (
            Heartbeat(
                lambda until: state.renew_chunk(chunk_id, owner, until), chunk=chunk_id
            ) as beat,
            paused_gc(),
        ):
            timings = _process(job, chunk, claimed.target, owner, beat)
    except LeaseLost:
        log.warning("chunk lease lost", extra={"job": job.id, "seq": chunk.seq})
        return 0
    except HandBack:
        state.release_chunk(chunk_id, owner, error=None, counts=False)
        enqueue("chunk", chunk_id, priority=-chunk.seq)
        log.info("chunk handed back", extra={"job": job.id, "seq": chunk.seq})
        return 0
    except Exception as exc:
        transient = is_transient(exc)
        try:  # give the lease back so a retry can claim it at once
            attempts = state.release_chunk(
                chunk_id, owner, error=error_text(exc), counts=not transient
            )
        except Exception:
            log.exception("chunk not handed back", extra={"chunk": chunk_id})
            raise exc from None
        log.warning(
            "chunk failed",
            extra={"chunk": chunk_id, "attempts": attempts, "transient": transient},
            exc_info=exc,
        )
        if not transient and attempts >= state.max_attempts():
            fail_chunk(chunk_id, error_text(exc), attempts)
            _pass_on(claimed)
            return attempts
        raise
    _pass_on(claimed)
    log.info(
        "chunk done",
        extra={
            "job": job.id,
            "seq": chunk.seq,
            "rows": chunk.row_count,
            "seconds": round(time.perf_counter() - started, 3),
            "claim_ms": round((started - claimed.claimed_at) * 1000, 1),
            **timings,
        },
    )
    return 0


def _pass_on(claimed: Claimed) -> None:
    """Under a cap, chunks of the organisation may wait for this one's place with no
    message left to claim them (a message that found only capped work did nothing)."""
    if claimed.claim.capped:
        enqueue("chunk", None, priority=-claimed.chunk.seq)


def _process(
    job: ImportJob, chunk: ImportChunk, target: Target, owner: str, beat: Heartbeat
) -> dict[str, float]:
    """Validate and write one chunk; returns where its time went (ms), for the log."""
    settings = get_settings()
    started = time.perf_counter()
    with get_storage().open(chunk.key) as f:
        batch = orjson.loads(f.read())
    beat.check()
    if job.file_format in ("json", "ndjson"):  # only JSON has objects in cells
        restore_chunk_cells(batch)
    cancelled = _cancel_requested(job.id)
    # ---- review edits (imports/review_rows.py): cells changed and rows discarded in the
    # preview's review grid; a discarded row is counted as skipped
    read = len(batch)
    with get_database().read() as session:
        batch, discarded = apply_edits(session.connection(), job, batch)
    # ---- end review edits
    checked: list[Checked] = []
    columns: dict[str, int] = {}
    issues: list[dict[str, Any]] = []
    if not cancelled:
        headers = job.headers or []
        columns = {m["id"]: headers.index(m["headerColumn"]) for m in job.mapping or []}
        validate = compile_batch_validator(
            target, headers, columns, settings.date_formats, **rules_of(job)
        )
        match = job.match_field or ""
        match_col = columns.get(match)
        for row, (_number, _cells, dup_of) in zip(validate(batch), batch, strict=True):
            if dup_of:
                row.reasons.append(
                    {
                        "column": headers[match_col] if match_col is not None else match,
                        "message": f"duplicate of row {dup_of}",
                    }
                )
            if row.reasons:
                issues.append(
                    {
                        "job_id": job.id,
                        "row_number": row.row_number,
                        "outcome": "failed",
                        "cells": row.cells,
                        "reasons": row.reasons,
                    }
                )
            else:
                checked.append(row)
    now = utcnow()
    ctx = WriteContext(
        org=job.organization_id,
        kind=job.type,
        target_id=str(job.data_type_id if job.type == "datasource" else job.flow_id),
        hub_id=job.hub_id,
        scope="" if target.common_data else (job.hub_id or ""),
        primary_key=target.primary_key,
        match_field=job.match_field,
        mode=job.import_mode,
        user=job.created_by or "system",
        now=now,
        job_id=job.id,
        journal=Journal(job.id, "record" if job.type == "datasource" else "task"),
    )
    by_number = {r.row_number: r for r in checked}
    prepared = prepare(ctx, checked, sqlite=get_database().is_sqlite) if not cancelled else None
    match_col = columns.get(job.match_field or "") if not cancelled else None
    match_header = (
        (job.headers or [])[match_col] if match_col is not None else (job.match_field or "")
    )
    prepared_at = time.perf_counter()
    beat.check()
    with get_database().write() as session:
        locked_at = time.perf_counter()
        conn = session.connection()
        if conn.dialect.name == "postgresql":
            # Safe to skip the flush: a commit lost in a crash takes the chunk's done mark
            # with it, so the sweeper re-runs the chunk; nothing is lost or written twice.
            conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
        counts = {"created": 0, "updated": 0, "skipped": len(discarded), "failed": len(issues)}
        issues += [  # review edits: the discarded rows, listed among those not imported
            {
                "job_id": job.id,
                "row_number": number,
                "outcome": "skipped",
                "cells": cells,
                "reasons": [{"column": "", "message": "discarded in the review"}],
            }
            for number, cells, *_ in discarded
        ]
        if prepared is not None:
            for number, (outcome, reason) in write_rows(conn, ctx, prepared).items():
                counts[outcome] += 1
                if outcome in ("skipped", "failed"):
                    issues.append(
                        {
                            "job_id": job.id,
                            "row_number": number,
                            "outcome": outcome,
                            "cells": by_number[number].cells,
                            "reasons": [{"column": match_header, "message": reason}],
                        }
                    )
        if issues:
            conn.execute(sa.insert(table_of(ImportRowIssue)), issues)
        assert ctx.journal is not None
        ctx.journal.write(conn, now)  # before-images commit with the writes (undo)
        progress = state.chunk_done(
            conn,
            chunk.id,
            job.id,
            owner,
            state.ChunkCounts(
                created=counts["created"],
                updated=counts["updated"],
                skipped=counts["skipped"],
                failed=counts["failed"],
                rows=0 if cancelled else read,  # discarded rows were read too
            ),
            state="cancelled" if cancelled else "done",
            duration_ms=int((time.perf_counter() - started) * 1000),
        )
        if progress is None:  # our lease was taken over: someone else owns this chunk now
            session.rollback()
            log.warning("chunk lease lost", extra={"job": job.id, "seq": chunk.seq})
            return {}
    committed_at = time.perf_counter()
    try:
        get_database().checkpoint()
    except Exception:  # an optimisation only: the chunk is committed, finalize must follow
        log.warning("WAL checkpoint failed", extra={"job": job.id}, exc_info=True)
    if progress.phase == "running" and progress.processed_chunks >= progress.total_chunks:
        enqueue("finalize", job.id)
    return {
        "prepare_ms": round((prepared_at - started) * 1000, 1),
        "lock_wait_ms": round((locked_at - prepared_at) * 1000, 1),
        "write_ms": round((committed_at - locked_at) * 1000, 1),
    }


def fail_chunk(chunk_id: str, reason: str, attempts: int) -> None:
    """A chunk out of attempts: its rows are recorded as failed with the reason, not lost,
    and the job's errorMessage says why (when nothing else did)."""
    with get_database().read() as session:
        chunk = session.get(ImportChunk, chunk_id)
        if chunk is None or chunk.state != "pending":
            return
        job_id = chunk.job_id
    try:
        with get_storage().open(chunk.key) as f:
            batch = orjson.loads(f.read())
        restore_chunk_cells(batch)
    except Exception:  # the chunk file itself may be what fails: count its rows all the same
        log.exception("chunk file unreadable", extra={"chunk": chunk_id})
        batch = []
    first = batch[0][0] if batch else None
    last = batch[-1][0] if batch else None
    where = f"rows {first}–{last}" if batch else f"{chunk.row_count} rows of chunk {chunk.seq}"
    message = f"{where.capitalize()} were not imported after {attempts} attempts: {reason}"
    with get_database().write() as session:
        conn = session.connection()
        progress = state.chunk_done(
            conn,
            chunk_id,
            job_id,
            None,
            state.ChunkCounts(0, 0, 0, chunk.row_count, chunk.row_count),
            state="done",
            duration_ms=None,
        )
        if progress is None:
            return
        if batch:
            conn.execute(
                sa.insert(table_of(ImportRowIssue)),
                [
                    {
                        "job_id": job_id,
                        "row_number": n,
                        "outcome": "failed",
                        "cells": cells,
                        "reasons": [{"column": "", "message": f"not imported: {reason}"}],
                    }
                    for n, cells, _dup in batch
                ],
            )
        state.note_job_error(conn, job_id, message)
    log.warning("chunk out of attempts", extra={"chunk": chunk_id, "job": job_id})
    if progress.phase == "running" and progress.processed_chunks >= progress.total_chunks:
        enqueue("finalize", job_id)
