"""Counters that add up (DECISIONS.md, Imports, revised 2026-12-04).

While the plan reads a file, `totalRows`/`totalChunks` are the rows and chunks cut and
recorded so far: a lower bound that only grows, so a processed count (which only counts
recorded chunks) never exceeds it. A projection from bytes read could overshoot and then
have to shrink at the end of the plan, which clients that divide processed by total read
as progress going backwards. When the plan ends the totals are exact.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from loadbay.db import table_of
from loadbay.imports.models import ImportChunk, ImportJob

jobs = table_of(ImportJob)


def running_totals(rows: int, chunks: int) -> dict[str, Any]:
    """UPDATE values that raise the job's totals to at least these, never lower them."""
    return {
        "total_rows": sa.case((jobs.c.total_rows < rows, rows), else_=jobs.c.total_rows),
        "total_chunks": sa.case((jobs.c.total_chunks < chunks, chunks), else_=jobs.c.total_chunks),
    }


def final_counts(job: ImportJob, status: str, written_chunks: int) -> dict[str, Any]:
    """The totals a finished job reports, the same in monitoring and the job view.

    A cancelled job's totals say what was written: the chunks cancelled unread are not
    counted as processed, nor are rows the plan never read."""
    rows = job.created_count + job.updated_count + job.failed_count + job.skipped_count
    values: dict[str, Any] = {"total_rows": rows, "processed_rows": rows}
    if status == "cancelled":
        values.update(total_chunks=written_chunks, processed_chunks=written_chunks)
    return values


def written_chunks_of(session: Any, job_id: str) -> int:
    return int(
        session.scalar(
            sa.select(sa.func.count())
            .select_from(ImportChunk)
            .where(ImportChunk.job_id == job_id, ImportChunk.state == "done")
        )
        or 0
    )


def failed_message(job: ImportJob) -> str:
    """`errorMessage` for a job that ends `failed` because no row could be written."""
    failed, skipped = job.failed_count, job.skipped_count
    rows = "row" if failed == 1 else "rows"
    if not skipped:
        every = "The only" if failed == 1 else f"All {failed}"
        return f"{every} {rows} failed validation; see the failed rows file"
    return (
        f"Nothing was written: {failed} {rows} failed validation and {skipped} were "
        "skipped; see the not-imported rows file"
    )
