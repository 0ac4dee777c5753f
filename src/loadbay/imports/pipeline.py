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
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import orjson
import sqlalchemy as sa

from loadbay.catalog.fields import cell_text
from loadbay.db import get_database, rowcount, table_of
from loadbay.errors import ApiError
from loadbay.gcpause import paused_gc
from loadbay.ids import new_owner, utcnow
from loadbay.imports import mapping
from loadbay.imports.dedupe import KeyIndex
from loadbay.imports.invalid_rule import check_invalid_rule, no_data_rows
from loadbay.imports.models import ImportChunk, ImportJob, ImportRowIssue
from loadbay.imports.target import Target, check_match_field, load_target
from loadbay.imports.validate import Checked, compile_batch_validator
from loadbay.imports.values import remembered_value_map, rules_of
from loadbay.imports.writes import WriteContext, prepare, write_rows
from loadbay.settings import get_settings
from loadbay.storage import get_storage
from loadbay.tabular.readers import Limits, TableError, open_table
from loadbay.webhooks.service import import_event

log = logging.getLogger("loadbay.imports")
jobs = table_of(ImportJob)
chunks = table_of(ImportChunk)
# Set by loadbay.imports.tasks: how the pipeline hands work to the queue.
enqueue_chunk: Callable[[str, int], None] = lambda chunk_id, seq: None  # noqa: E731
enqueue_finalize: Callable[[str], None] = lambda job_id: None  # noqa: E731


def limits() -> Limits:
    s = get_settings()
    return Limits(
        max_rows=s.max_rows,
        max_columns=s.max_columns,
        max_cell_chars=s.max_cell_chars,
        max_xlsx_uncompressed_bytes=s.max_xlsx_uncompressed_bytes,
        max_xlsx_ratio=s.max_xlsx_ratio,
        xlsx_calamine_max_bytes=s.xlsx_calamine_max_bytes,
        calamine_max_cells=s.calamine_max_cells,
        max_json_depth=s.max_json_depth,
    )


def _lease() -> datetime:
    return utcnow() + timedelta(seconds=get_settings().lease_seconds)


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
                processed_at=now,
                updated_time=now,
                updated_by="system",
                lease_owner=None,
            )
        )
        if rowcount(ended):
            import_event(session, job_id)
    log.info("job failed", extra={"job": job_id, "reason": message})


def _target_of(session: Any, job: ImportJob) -> Target:
    target_id = job.data_type_id if job.type == "datasource" else job.flow_id
    return load_target(session, job.organization_id, job.type, str(target_id))


# ---- plan --------------------------------------------------------------------------------


def plan_job(job_id: str) -> None:
    db = get_database()
    now = utcnow()
    owner = new_owner()
    with db.write() as session:
        claimed = rowcount(
            session.execute(
                jobs.update()
                .where(
                    jobs.c.id == job_id,
                    jobs.c.confirmed.is_(True),
                    sa.or_(
                        jobs.c.phase == "queued",
                        sa.and_(
                            jobs.c.phase == "planning",
                            sa.or_(jobs.c.lease_owner.is_(None), jobs.c.lease_expires < now),
                        ),
                    ),
                )
                .values(
                    phase="planning",
                    lease_owner=owner,
                    lease_expires=_lease(),
                    started_at=sa.func.coalesce(jobs.c.started_at, now),
                    attempts=jobs.c.attempts + 1,
                    updated_time=now,
                )
            )
        )
        job = session.get(ImportJob, job_id)
        if not claimed or job is None:
            return
        if job.cancel_requested:
            session.execute(
                jobs.update()
                .where(jobs.c.id == job_id)
                .values(status="cancelled", phase="done", processed_at=now, lease_owner=None)
            )
            import_event(session, job_id)
            return
        target = _target_of(session, job)
        done_seqs = set(
            session.scalars(sa.select(ImportChunk.seq).where(ImportChunk.job_id == job_id))
        )
    log.info("plan start", extra={"job": job_id, "format": job.file_format})
    started = time.perf_counter()
    try:
        with paused_gc():
            total_rows, total_chunks, stopped = _plan(job, target, done_seqs, owner)
    except (TableError, ApiError) as exc:
        fail_job(job_id, getattr(exc, "message", None) or str(exc))
        return
    with db.write() as session:
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
                updated_time=utcnow(),
            )
            .returning(jobs.c.processed_chunks)
        ).first()
    log.info(
        "plan done",
        extra={
            "job": job_id,
            "rows": total_rows,
            "chunks": total_chunks,
            "seconds": round(time.perf_counter() - started, 2),
        },
    )
    if row is not None and row[0] >= total_chunks:
        enqueue_finalize(job_id)


def _plan(
    job: ImportJob, target: Target, done_seqs: set[int], owner: str
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
        with get_database().write() as session:
            session.execute(
                jobs.update()
                .where(jobs.c.id == job.id)
                .values(
                    headers=headers,
                    mapping=resolved.items(),
                    match_field=match,
                    options=options,
                    sheet_name=table.sheet or job.sheet_name,
                )
            )
        # invalidRows=block / maxInvalid: every row is validated before any chunk exists.
        check_invalid_rule(job, target, table, columns, key_col)
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
                        _emit(job, seq, batch, key_col, seen, done_seqs, recorder)
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
                _emit(job, seq, batch, key_col, seen, done_seqs, recorder)
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
    from loadbay.imports.jobs_routes import mapping_history

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
            chunk_rows = [
                ImportChunk(
                    job_id=self.job.id, seq=seq, key=key, row_count=rows, lease_expires=_lease()
                )
                for seq, key, rows in self.pending
            ]
            session.add_all(chunk_rows)
            session.execute(
                jobs.update()
                .where(jobs.c.id == self.job.id, jobs.c.lease_owner == self.owner)
                .values(lease_expires=_lease())
            )
            session.flush()
            handed = [(c.id, c.seq) for c in chunk_rows]
        self.pending = []
        for chunk_id, seq in handed:
            enqueue_chunk(chunk_id, seq)


def _emit(
    job: ImportJob,
    seq: int,
    batch: list[list[Any]],
    key_col: int | None,
    seen: KeyIndex,
    done_seqs: set[int],
    recorder: _Recorder,
) -> None:
    """Write one chunk file and have it recorded and queued (see `_Recorder`)."""
    if key_col is not None:
        keyed = [(cell_text(r[1][key_col]), r[0]) for r in batch if r[1][key_col] not in (None, "")]
        dupes = seen.first_rows(keyed)
        if dupes:
            by_number = {r[0]: r for r in batch}
            for row, first in dupes.items():
                by_number[row][2] = first
    if seq in done_seqs:  # a re-run plan: this chunk was recorded before the crash
        return
    key = f"{job.organization_id}/imports/{job.id}/chunks/{seq:06d}.json"
    with get_storage().writer(key) as out:
        out.write(orjson.dumps(batch))
    recorder.add(seq, key, len(batch))


# ---- chunks ------------------------------------------------------------------------------


def run_chunk(chunk_id: str) -> None:
    db = get_database()
    claim_started = time.perf_counter()
    now = utcnow()
    owner = new_owner()
    with db.write() as session:
        claimed = rowcount(
            session.execute(
                chunks.update()
                .where(
                    chunks.c.id == chunk_id,
                    chunks.c.state == "pending",
                    sa.or_(chunks.c.lease_owner.is_(None), chunks.c.lease_expires < now),
                    chunks.c.job_id.in_(
                        sa.select(jobs.c.id).where(jobs.c.phase.in_(("planning", "running")))
                    ),
                )
                .values(lease_owner=owner, lease_expires=_lease(), attempts=chunks.c.attempts + 1)
            )
        )
        chunk = session.get(ImportChunk, chunk_id)
        if not claimed or chunk is None:
            return
        job = session.get(ImportJob, chunk.job_id)
        assert job is not None
        target = _target_of(session, job)
        session.expunge_all()
    started = time.perf_counter()
    try:
        with paused_gc():
            timings = _process(job, chunk, target, owner)
    except Exception:
        with db.write() as session:  # give the lease back so a retry can claim it at once
            session.execute(
                chunks.update()
                .where(chunks.c.id == chunk_id, chunks.c.lease_owner == owner)
                .values(lease_owner=None, lease_expires=_lease())
            )
        raise
    log.info(
        "chunk done",
        extra={
            "job": job.id,
            "seq": chunk.seq,
            "rows": chunk.row_count,
            "seconds": round(time.perf_counter() - started, 3),
            "claim_ms": round((started - claim_started) * 1000, 1),
            **timings,
        },
    )


def _process(job: ImportJob, chunk: ImportChunk, target: Target, owner: str) -> dict[str, float]:
    """Validate and write one chunk; returns where its time went (ms), for the log."""
    settings = get_settings()
    started = time.perf_counter()
    with get_storage().open(chunk.key) as f:
        batch = orjson.loads(f.read())
    cancelled = _cancel_requested(job.id)
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
    )
    by_number = {r.row_number: r for r in checked}
    prepared = prepare(ctx, checked, sqlite=get_database().is_sqlite) if not cancelled else None
    match_col = columns.get(job.match_field or "") if not cancelled else None
    match_header = (
        (job.headers or [])[match_col] if match_col is not None else (job.match_field or "")
    )
    prepared_at = time.perf_counter()
    with get_database().write() as session:
        locked_at = time.perf_counter()
        conn = session.connection()
        if conn.dialect.name == "postgresql":
            # Safe to skip the flush: a commit lost in a crash takes the chunk's done mark
            # with it, so the sweeper re-runs the chunk; nothing is lost or written twice.
            conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
        counts = {"created": 0, "updated": 0, "skipped": 0, "failed": len(issues)}
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
        done = rowcount(
            conn.execute(
                chunks.update()
                .where(
                    chunks.c.id == chunk.id,
                    chunks.c.state == "pending",
                    chunks.c.lease_owner == owner,
                )
                .values(
                    duration_ms=int((time.perf_counter() - started) * 1000),
                    state="cancelled" if cancelled else "done",
                    lease_owner=None,
                    done_time=now,
                    created_count=counts["created"],
                    updated_count=counts["updated"],
                    skipped_count=counts["skipped"],
                    failed_count=counts["failed"],
                )
            )
        )
        if done != 1:  # our lease was taken over: someone else owns this chunk now
            session.rollback()
            log.warning("chunk lease lost", extra={"job": job.id, "seq": chunk.seq})
            return {}
        processed = 0 if cancelled else len(batch)
        progress = conn.execute(
            jobs.update()
            .where(jobs.c.id == job.id)
            .values(
                processed_chunks=jobs.c.processed_chunks + 1,
                processed_rows=jobs.c.processed_rows + processed,
                created_count=jobs.c.created_count + counts["created"],
                updated_count=jobs.c.updated_count + counts["updated"],
                skipped_count=jobs.c.skipped_count + counts["skipped"],
                failed_count=jobs.c.failed_count + counts["failed"],
                updated_time=now,
                updated_by="system",
            )
            .returning(jobs.c.processed_chunks, jobs.c.total_chunks, jobs.c.phase)
        ).one()
    committed_at = time.perf_counter()
    try:
        get_database().checkpoint()
    except Exception:  # an optimisation only: the chunk is committed, finalize must follow
        log.warning("WAL checkpoint failed", extra={"job": job.id}, exc_info=True)
    if progress.phase == "running" and progress.processed_chunks >= progress.total_chunks:
        enqueue_finalize(job.id)
    return {
        "prepare_ms": round((prepared_at - started) * 1000, 1),
        "lock_wait_ms": round((locked_at - prepared_at) * 1000, 1),
        "write_ms": round((committed_at - locked_at) * 1000, 1),
    }


def fail_chunk(chunk_id: str, reason: str) -> None:
    """A chunk that will not be retried again: its rows are recorded as failed, not lost."""
    with get_database().read() as session:
        chunk = session.get(ImportChunk, chunk_id)
        if chunk is None or chunk.state != "pending":
            return
        job_id = chunk.job_id
    with get_storage().open(chunk.key) as f:
        batch = orjson.loads(f.read())
    now = utcnow()
    with get_database().write() as session:
        done = rowcount(
            session.execute(
                chunks.update()
                .where(chunks.c.id == chunk_id, chunks.c.state == "pending")
                .values(state="done", lease_owner=None, done_time=now, failed_count=len(batch))
            )
        )
        if done != 1:
            return
        session.execute(
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
        progress = session.execute(
            jobs.update()
            .where(jobs.c.id == job_id)
            .values(
                processed_chunks=jobs.c.processed_chunks + 1,
                processed_rows=jobs.c.processed_rows + len(batch),
                failed_count=jobs.c.failed_count + len(batch),
                updated_time=now,
            )
            .returning(jobs.c.processed_chunks, jobs.c.total_chunks, jobs.c.phase)
        ).one()
    if progress.phase == "running" and progress.processed_chunks >= progress.total_chunks:
        enqueue_finalize(job_id)
