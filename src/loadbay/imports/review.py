"""The import review: the whole file validated in the background before anything is
written, and what it found (issue 10, item 3).

After the preview upload the job's file is read with the plan step's reader, cut
into chunk files (the rows endpoint reads cells from them) and every row checked
with the import's validator (`review_check`). Only what is wrong is stored: one
`ImportReviewIssue` per refused or normalised cell. Counts, the forecast and the
errors grouped by (column, code) are read from there, so a 1M-row review costs
what its errors cost. A changed draft bumps the review's `generation`; a pass of
an older generation notices and stops without writing.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.orm import Session

from loadbay.db import get_database, rowcount, table_of
from loadbay.gcpause import paused_gc
from loadbay.imports import mapping
from loadbay.imports.dedupe import KeyIndex
from loadbay.imports.models import ImportJob
from loadbay.imports.review_check import RowChecker, reason_of
from loadbay.imports.review_models import ImportReview, ImportReviewEdit, ImportReviewIssue
from loadbay.imports.target import load_target
from loadbay.queue import enqueue as queue_enqueue
from loadbay.settings import get_settings
from loadbay.storage import get_storage
from loadbay.tabular.readers import TableError, open_table

log = logging.getLogger("loadbay.imports")
issues_table = table_of(ImportReviewIssue)
reviews = table_of(ImportReview)
FIRST_ROWS = 5  # rows listed per group of errors


def target_of(session: Session, job: ImportJob) -> Any:
    target_id = job.data_type_id if job.type == "datasource" else job.flow_id
    return load_target(session, job.organization_id, job.type, str(target_id))


def start(
    session: Session, job: ImportJob, items: list[dict[str, Any]] | None, total: int = 0
) -> int:
    """(Re)start the review of `job` with the mapping `items`, in the caller's unit of
    work; answers the generation to enqueue once it is committed. Edits are kept."""
    review = session.get(ImportReview, job.id)
    if review is None:
        review = ImportReview(job_id=job.id, generation=1)
        session.add(review)
    else:
        review.generation += 1
    review.status, review.mapping = "Pending", items
    review.processed_rows, review.total_rows = 0, total
    review.forecast, review.error_message = None, None
    session.execute(issues_table.delete().where(issues_table.c.job_id == job.id))
    session.flush()
    return review.generation


def edits_of(session: Session, job_id: str) -> tuple[dict[int, dict[str, str | None]], set[int]]:
    """The review's edits: row → {header: new text}, and the discarded rows."""
    cells: dict[int, dict[str, str | None]] = {}
    discarded: set[int] = set()
    for edit in session.scalars(
        sa.select(ImportReviewEdit).where(ImportReviewEdit.job_id == job_id)
    ):
        if edit.discard:
            discarded.add(edit.row_number)
        else:
            cells.setdefault(edit.row_number, {})[edit.header] = edit.value
    return cells, discarded


class Edited:
    """The review's edits of one job, loaded once, laid over rows read from its file:
    what the plan step's duplicate-key check and invalid-row rule see, as the chunks do."""

    def __init__(self, job_id: str, headers: list[str]) -> None:
        with get_database().read() as session:
            self.cells, self.discarded = edits_of(session, job_id)
        self.headers = headers

    def rows(self, rows: list[tuple[int, list[Any]]]) -> list[tuple[int, list[Any]]]:
        """The rows not discarded, with their edited cells."""
        if not self.cells and not self.discarded:
            return rows
        return [
            (n, patched(cells, self.cells.get(n), self.headers))
            for n, cells in rows
            if n not in self.discarded
        ]


def patched(
    cells: list[Any], changes: dict[str, str | None] | None, headers: list[str]
) -> list[Any]:
    if not changes:
        return cells
    out = list(cells)
    for header, value in changes.items():
        if header in headers:
            col = headers.index(header)
            out.extend([None] * (col + 1 - len(out)))
            out[col] = value
    return out


def _current(session: Session, job_id: str, generation: int) -> bool:
    found = session.scalar(sa.select(ImportReview.generation).where(ImportReview.job_id == job_id))
    return found == generation


def run(job_id: str, generation: int) -> None:
    """One review pass: claim it, read and check every row, record what is wrong."""
    db = get_database()
    with db.write() as session:
        claimed = rowcount(
            session.execute(
                reviews.update()
                .where(
                    reviews.c.job_id == job_id,
                    reviews.c.generation == generation,
                    reviews.c.status.in_(("Pending", "Running")),
                )
                .values(status="Running")
            )
        )
        job = session.get(ImportJob, job_id)
        review = session.get(ImportReview, job_id)
        if not claimed or job is None or review is None or job.phase != "preview":
            return
        target = target_of(session, job)
        items = review.mapping
        edits, discarded = edits_of(session, job_id)
        session.expunge_all()
    try:
        with paused_gc():
            _pass(job, target, items, generation, edits, discarded)
    except TableError as exc:
        _finish(job_id, generation, status="Failed", error_message=exc.message)
    except Exception as exc:
        log.exception("review failed", extra={"job": job_id})
        _finish(job_id, generation, status="Failed", error_message=type(exc).__name__)


def _finish(job_id: str, generation: int, **values: Any) -> bool:
    with get_database().write() as session:
        done = rowcount(
            session.execute(
                reviews.update()
                .where(reviews.c.job_id == job_id, reviews.c.generation == generation)
                .values(**values)
            )
        )
    return bool(done)


def _pass(
    job: ImportJob,
    target: Any,
    items: list[dict[str, Any]] | None,
    generation: int,
    edits: dict[int, dict[str, str | None]],
    discarded: set[int],
) -> None:
    from loadbay.imports.limits import limits

    size = get_settings().chunk_size
    prefix = f"{job.organization_id}/imports/{job.id}/review/{generation:04d}"
    with (
        get_storage().local_copy(job.file_key) as path,
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
        resolved = mapping.resolve_mapping(headers, target.specs, items, strict=False)
        checker = RowChecker(target, headers, resolved.columns, job)
        state = _PassState(job, checker, prefix, generation, edits, discarded)
        with KeyIndex() as seen:
            state.seen = seen
            batch: list[tuple[int, list[Any]]] = []
            for row in table.rows():
                batch.append(row)
                if len(batch) >= size:
                    if not state.chunk(batch):
                        return
                    batch = []
            if batch and not state.chunk(batch):
                return
    _finish(
        job.id,
        generation,
        status="Done",
        chunks=state.index,
        forecast=state.forecast,
        total_rows=state.rows,
        processed_rows=state.rows,
    )


class _PassState:
    """What one pass has seen so far; each chunk is recorded in one short transaction."""

    def __init__(
        self,
        job: ImportJob,
        checker: RowChecker,
        prefix: str,
        generation: int,
        edits: dict[int, dict[str, str | None]],
        discarded: set[int],
    ) -> None:
        self.job, self.checker, self.prefix, self.generation = job, checker, prefix, generation
        self.edits, self.discarded = edits, discarded
        self.index: list[list[Any]] = []
        self.forecast = {"create": 0, "update": 0, "skip": 0}
        self.rows = 0
        self.seen: KeyIndex | None = None

    def chunk(self, batch: list[tuple[int, list[Any]]]) -> bool:
        """Check and record one chunk; False when the draft changed meanwhile."""
        key = f"{self.prefix}/{len(self.index):06d}.json"
        with get_storage().writer(key) as out:
            out.write(orjson.dumps(batch))
        self.index.append([batch[0][0], batch[-1][0], len(batch), key])
        headers = self.checker.headers
        rows = [
            (n, patched(cells, self.edits.get(n), headers))
            for n, cells in batch
            if n not in self.discarded
        ]
        self.forecast["skip"] += len(batch) - len(rows)
        dupes: dict[int, int] = {}
        if self.seen is not None:
            keyed = [(k, n) for n, c in rows if (k := self.checker.key_of(c)) is not None]
            dupes = self.seen.first_rows(keyed)
        results = self.checker.check(rows, dupes)
        found = [
            {**issue, "job_id": self.job.id, "row_number": r.row_number}
            for r in results
            for issue in r.issues
        ]
        self.rows += len(batch)
        with get_database().write() as session:
            if not _current(session, self.job.id, self.generation):
                return False
            conn = session.connection()
            for outcome in self.checker.forecast(conn, self.job, results).values():
                self.forecast[outcome] += 1
            if found:
                conn.execute(sa.insert(issues_table), found)
            conn.execute(
                reviews.update()
                .where(reviews.c.job_id == self.job.id)
                .values(processed_rows=self.rows, forecast=self.forecast, chunks=self.index)
            )
        return True


# ---- what the review found ----------------------------------------------------------------


def invalid_rows(session: Session, job_id: str) -> list[int]:
    """The rows with an error that are not discarded, in file order."""
    discarded = sa.select(ImportReviewEdit.row_number).where(
        ImportReviewEdit.job_id == job_id, ImportReviewEdit.discard.is_(True)
    )
    return list(
        session.scalars(
            sa.select(ImportReviewIssue.row_number)
            .where(
                ImportReviewIssue.job_id == job_id,
                ImportReviewIssue.severity == "error",
                ImportReviewIssue.row_number.not_in(discarded),
            )
            .distinct()
            .order_by(ImportReviewIssue.row_number)
        )
    )


def groups(session: Session, job_id: str) -> list[dict[str, Any]]:
    """Errors grouped by column and reason, with counts and the first rows; a row
    discarded in the review is not counted (it is skipped, not invalid)."""
    issue = ImportReviewIssue
    kept = issue.row_number.not_in(
        sa.select(ImportReviewEdit.row_number).where(
            ImportReviewEdit.job_id == job_id, ImportReviewEdit.discard.is_(True)
        )
    )
    found = session.execute(
        sa.select(issue.column, issue.field, issue.code, sa.func.count())
        .where(issue.job_id == job_id, issue.severity == "error", kept)
        .group_by(issue.column, issue.field, issue.code)
    ).all()
    out = []
    # sorted here, not in SQL: the engines' collations order mixed-case headers apart
    for column, fid, code, count in sorted(found, key=lambda g: (-g[3], g[0], g[2])):
        first = session.scalars(
            sa.select(issue.row_number)
            .where(issue.job_id == job_id, issue.column == column, issue.code == code, kept)
            .order_by(issue.row_number)
            .limit(FIRST_ROWS)
        ).all()
        out.append(
            {
                "column": column,
                "field": fid,
                "code": code,
                "reason": reason_of(code),
                "count": count,
                "firstRows": list(first),
            }
        )
    return out


def summary(session: Session, job_id: str) -> dict[str, Any] | None:
    """The preview's `validation` object, or None for a job that was never previewed."""
    review = session.get(ImportReview, job_id)
    if review is None:
        return None
    invalid = len(invalid_rows(session, job_id))
    warnings = session.scalar(
        sa.select(sa.func.count())
        .select_from(ImportReviewIssue)
        .where(ImportReviewIssue.job_id == job_id, ImportReviewIssue.severity == "warning")
    )
    discarded = session.scalar(
        sa.select(sa.func.count())
        .select_from(ImportReviewEdit)
        .where(ImportReviewEdit.job_id == job_id, ImportReviewEdit.discard.is_(True))
    )
    total = review.total_rows
    body: dict[str, Any] = {
        "status": review.status,
        "processedRows": review.processed_rows,
        "totalRows": total,
        "valid": max(review.processed_rows - invalid - (discarded or 0), 0),
        "invalid": invalid,
        "discarded": discarded or 0,
        "warnings": warnings or 0,
        "forecast": review.forecast or {"create": 0, "update": 0, "skip": 0},
        "errors": groups(session, job_id),
    }
    if review.error_message:
        body["errorMessage"] = review.error_message
    return body


def enqueue(code: str, generation: int) -> None:
    """Send a review pass through the queue's seam (after the commit that started it)."""
    queue_enqueue("review", code, generation)
