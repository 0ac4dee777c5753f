"""The last step of a job: status, counts, times, and the files of rows not imported."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from loadbay.db import get_database, table_of
from loadbay.ids import new_owner
from loadbay.imports import names, state
from loadbay.imports.counters import failed_message, final_counts, written_chunks_of
from loadbay.imports.models import ImportChunk, ImportJob, ImportRowIssue
from loadbay.leases import HandBack, Heartbeat, LeaseLost
from loadbay.queue import enqueue
from loadbay.storage import get_storage
from loadbay.tabular.writers import open_writer
from loadbay.tabular.xlsx_writer import Highlighted, XlsxWriter

log = logging.getLogger("loadbay.imports")
issues_table = table_of(ImportRowIssue)


def final_status(job: ImportJob, cancelled_chunks: int) -> str:
    if job.cancel_requested and (cancelled_chunks or job.error_message):
        return "cancelled"
    if job.failed_count == 0 and not job.error_message:
        return "success"
    if job.created_count + job.updated_count == 0:
        return "failed"
    return "partially"


def finalize_job(job_id: str) -> None:
    owner = new_owner()
    with get_database().write() as session:
        claimed = state.claim_job(session, job_id, owner, "finalizing")
        job = session.get(ImportJob, job_id)
        if not claimed or job is None:
            return
        session.expunge(job)

    # Writing a million rows not imported takes tens of seconds (more on a slow host or
    # store): the claim is renewed meanwhile, and a finalize whose claim another worker
    # took over stops at its next batch; the newer one finishes the job.
    failed_key = not_imported_key = None
    options: dict[str, Any] | None = None
    try:
        with Heartbeat(
            lambda until: state.renew_job(job_id, "finalizing", owner, until), job=job_id
        ) as heartbeat:
            if job.failed_count:
                failed_key = _write_issues(job, ("failed",), not_imported=False, beat=heartbeat)
                # the same rows as XLSX whatever the upload's format, the bad cells marked
                xlsx_key = _write_failed_xlsx(job, heartbeat)
                options = {**(job.options or {}), "failedXlsxKey": xlsx_key}
            if job.failed_count or job.skipped_count:
                not_imported_key = _write_issues(
                    job, ("failed", "skipped"), not_imported=True, beat=heartbeat
                )
            heartbeat.check()
        with get_database().read() as session:
            cancelled_chunks = session.scalar(
                sa.select(sa.func.count())
                .select_from(ImportChunk)
                .where(ImportChunk.job_id == job_id, ImportChunk.state == "cancelled")
            )
            written_chunks = written_chunks_of(session, job_id)
        status = final_status(job, cancelled_chunks or 0)
        ends: dict[str, Any] = final_counts(job, status, written_chunks)
        if status == "failed" and not job.error_message:  # filled on every failed status
            ends["error_message"] = failed_message(job)
        if options is not None:
            ends["options"] = options
        finished = state.finalize_done(job_id, owner, status, failed_key, not_imported_key, **ends)
    except LeaseLost:
        log.warning("finalize lease lost; the newer claim finishes the job", extra={"job": job_id})
        return
    except HandBack:
        state.release_job(job_id, "finalizing", owner, error=None, counts=False)
        enqueue("finalize", job_id)
        log.info("finalize handed back", extra={"job": job_id})
        return
    except Exception as exc:
        if state.step_failed(job_id, "finalizing", owner, exc):
            return
        raise
    if not finished:
        log.warning("finalize lease lost; the newer claim finishes the job", extra={"job": job_id})
        return
    log.info(
        "job finalized",
        extra={
            "job": job_id,
            "status": status,
            # "created" is a LogRecord attribute: logging refuses it as an extra key.
            "created_rows": job.created_count,
            "updated_rows": job.updated_count,
            "skipped_rows": job.skipped_count,
            "failed_rows": job.failed_count,
        },
    )
    if job.created_count + job.updated_count >= ANALYZE_AFTER_ROWS:
        _refresh_statistics("records" if job.type == "datasource" else "tasks")


# After a big import PostgreSQL's planner has no statistics for the new rows until
# autovacuum's ANALYZE comes round; meanwhile an export's keyset query was planned as a
# sort of the whole table per batch (measured: 8,900 rows/s instead of 60,000+ on 1M fresh
# records). ANALYZE samples 30,000 rows: about a second, once per big import.
ANALYZE_AFTER_ROWS = 100_000


def _refresh_statistics(table: str) -> None:
    db = get_database()
    if db.is_sqlite:
        return  # SQLite plans these queries from the indexes alone
    try:
        with db.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(f"ANALYZE {table}")
    except Exception:  # statistics are an optimisation: the import itself is done
        log.warning("ANALYZE after import failed", extra={"table": table}, exc_info=True)


ISSUE_BATCH = 5000  # rows not imported read per transaction


def _issues(job_id: str, outcomes: tuple[str, ...], beat: Heartbeat) -> Iterator[Any]:
    """Rows not imported, in file order, read in short keyset transactions."""
    last = (-1, -1)
    while True:
        beat.check()
        with get_database().read() as session:
            batch = session.execute(
                sa.select(
                    issues_table.c.row_number,
                    issues_table.c.id,
                    issues_table.c.outcome,
                    issues_table.c.cells,
                    issues_table.c.reasons,
                )
                .where(
                    issues_table.c.job_id == job_id,
                    issues_table.c.outcome.in_(outcomes),
                    sa.tuple_(issues_table.c.row_number, issues_table.c.id) > sa.tuple_(*last),
                )
                .order_by(issues_table.c.row_number, issues_table.c.id)
                .limit(ISSUE_BATCH)
            ).all()
        if not batch:
            return
        yield from batch
        last = (batch[-1].row_number, batch[-1].id)


def _write_issues(
    job: ImportJob, outcomes: tuple[str, ...], *, not_imported: bool, beat: Heartbeat
) -> str:
    headers = list(job.headers or [])
    # Named by ids only: the upload's name is data and never becomes a path or a key.
    fmt = names.issues_format(job, not_imported=not_imported)
    columns = ["Row", *headers, *(["Outcome"] if not_imported else []), "Error"]
    key = names.issues_key(job, not_imported=not_imported)
    with tempfile.TemporaryDirectory(prefix="loadbay-") as tmp:
        path = Path(tmp) / key.rsplit("/", 1)[-1]
        writer = open_writer(fmt, path, columns, sheet_name="Failed rows", base_name="failed")  # type: ignore[arg-type]
        try:
            width = len(headers)

            def rows() -> Iterator[list[Any]]:
                for issue in _issues(job.id, outcomes, beat):
                    cells = list(issue.cells[:width]) + [None] * (width - len(issue.cells))
                    reason = "; ".join(r["message"] for r in issue.reasons)
                    extra = [issue.outcome] if not_imported else []
                    yield [issue.row_number, *cells, *extra, reason]

            writer.write_rows(rows())
        finally:
            writer.close()
        get_storage().save_file(key, path)
    return key


def _write_failed_xlsx(job: ImportJob, beat: Heartbeat) -> str:
    """`failedRowsXlsxUrl`'s file: Row, the file's columns and Error, each cell a row
    failed on shown on a red fill (DECISIONS: the failed rows as XLSX, bad cells marked)."""
    headers = list(job.headers or [])
    width = len(headers)
    at = {h: i for i, h in enumerate(headers)}
    key = names.failed_xlsx_key(job)
    with tempfile.TemporaryDirectory(prefix="loadbay-") as tmp:
        path = Path(tmp) / "failed_rows.xlsx"
        with XlsxWriter(path) as book:
            book.add_sheet("Failed rows", ["Row", *headers, "Error"])

            def rows() -> Iterator[list[Any]]:
                for issue in _issues(job.id, ("failed",), beat):
                    cells: list[Any] = list(issue.cells[:width]) + [None] * (
                        width - len(issue.cells)
                    )
                    for reason in issue.reasons:
                        col = at.get(reason.get("column") or "")
                        if col is not None and not isinstance(cells[col], Highlighted):
                            cells[col] = Highlighted(cells[col])
                    reason = "; ".join(r["message"] for r in issue.reasons)
                    yield [issue.row_number, *cells, reason]

            book.write_rows(rows())
        get_storage().save_file(key, path)
    return key
