"""The review grid (issue 10, item 4): the file's rows page by page with what is wrong
with them, edits re-validated at once, and the edits applied when a chunk commits.

A row's cells come from the review's chunk files, found by row number through the
review's chunk index (first row, last row, rows, key), so a page of a 1M-row file
reads one or two small files. Edits are rows of `ImportReviewEdit`: they survive a
restart and are laid over the file's cells wherever cells are read.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.orm import Session

from loadbay.catalog.fields import cell_text
from loadbay.db import get_database, table_of
from loadbay.errors import BadRequest, Conflict
from loadbay.imports import mapping
from loadbay.imports.bodies import RowEdit
from loadbay.imports.models import ImportJob
from loadbay.imports.review import edits_of, invalid_rows, patched, target_of
from loadbay.imports.review_check import REASONS, RowChecker
from loadbay.imports.review_models import ImportReview, ImportReviewEdit, ImportReviewIssue
from loadbay.storage import get_storage

FILTERS = ("all", "valid", "invalid")
edits_table = table_of(ImportReviewEdit)
issues_table = table_of(ImportReviewIssue)
reviews = table_of(ImportReview)
Row = tuple[int, list[Any]]


def _done_review(session: Session, job: ImportJob) -> ImportReview:
    review = session.get(ImportReview, job.id)
    if review is None or review.status != "Done" or not review.chunks:
        state = review.status if review is not None else "not started"
        raise Conflict(
            "import-032",
            f"Import job {job.id}: the whole-file validation is {state}; rows can be read "
            "and edited once it is Done",
        )
    return review


def _load(key: str) -> list[Row]:
    with get_storage().open(key) as f:
        return [(n, cells) for n, cells in orjson.loads(f.read())]


class _Chunks:
    """The review's chunk files, read at most once per request."""

    def __init__(self, index: list[list[Any]]) -> None:
        self.index = index
        self.firsts = [c[0] for c in index]
        self.cache: dict[int, dict[int, list[Any]]] = {}

    def rows_of(self, i: int) -> dict[int, list[Any]]:
        if i not in self.cache:
            self.cache[i] = dict(_load(self.index[i][3]))
        return self.cache[i]

    def cells(self, number: int) -> list[Any] | None:
        i = bisect.bisect_right(self.firsts, number) - 1
        if i < 0 or number > self.index[i][1]:
            return None
        return self.rows_of(i).get(number)

    def window(self, excluded: Sequence[int], offset: int, limit: int) -> list[int]:
        """Row numbers `offset`..`offset+limit` of the file, skipping `excluded` (sorted)."""
        out: list[int] = []
        for i, (first, last, count, _key) in enumerate(self.index):
            lo, hi = bisect.bisect_left(excluded, first), bisect.bisect_right(excluded, last)
            kept = count - (hi - lo)
            if offset >= kept:
                offset -= kept
                continue
            skip = set(excluded[lo:hi])
            numbers = [n for n in self.rows_of(i) if n not in skip]
            out.extend(numbers[offset : offset + limit - len(out)])
            offset = 0
            if len(out) >= limit:
                break
        return out


def _code_of(reason: str) -> str:
    for code, words in REASONS.items():
        if reason in (code, words):
            return code
    return (
        "invalid_" + reason.removeprefix("not a valid ") if reason.startswith("not a") else reason
    )


def _discarded(session: Session, job_id: str) -> list[int]:
    return sorted(
        session.scalars(
            sa.select(ImportReviewEdit.row_number).where(
                ImportReviewEdit.job_id == job_id, ImportReviewEdit.discard.is_(True)
            )
        )
    )


def page_rows(
    session: Session,
    job: ImportJob,
    kind: str,
    column: str | None,
    reason: str | None,
    page: int,
    limit: int,
) -> tuple[list[dict[str, Any]], int]:
    """One page of rows in file order, and how many rows match."""
    if kind not in FILTERS:
        raise BadRequest("import-003", f"filter must be one of {', '.join(FILTERS)}")
    review = _done_review(session, job)
    chunks = _Chunks(review.chunks or [])
    offset = (page - 1) * limit
    if column or reason:
        issue = ImportReviewIssue
        query = sa.select(issue.row_number).where(issue.job_id == job.id).distinct()
        if column:
            query = query.where(issue.column == column)
        if reason:
            query = query.where(issue.code == _code_of(reason))
        if kind == "invalid":
            query = query.where(issue.severity == "error")
        elif kind == "valid":
            query = query.where(issue.severity == "warning")
        hits = set(session.scalars(query))
        if kind != "all":
            hits -= set(_discarded(session, job.id))
        if kind == "valid":
            hits -= set(invalid_rows(session, job.id))
        ordered = sorted(hits)
        numbers, total = ordered[offset : offset + limit], len(ordered)
    elif kind == "invalid":
        bad = invalid_rows(session, job.id)
        numbers, total = bad[offset : offset + limit], len(bad)
    else:
        excluded: list[int] = []
        if kind == "valid":
            excluded = sorted(set(invalid_rows(session, job.id)) | set(_discarded(session, job.id)))
        numbers = chunks.window(excluded, offset, limit)
        total = review.total_rows - len(excluded)
    return render(session, job, chunks, numbers), total


def render(
    session: Session, job: ImportJob, chunks: _Chunks, numbers: Sequence[int]
) -> list[dict[str, Any]]:
    """Rows as the grid shows them: cells (with the edits laid over), issues, discarded."""
    if not numbers:
        return []
    headers = list(job.headers or [])
    wanted = list(numbers)
    edits: dict[int, dict[str, str | None]] = {}
    discarded: set[int] = set()
    for edit in session.scalars(
        sa.select(ImportReviewEdit).where(
            ImportReviewEdit.job_id == job.id, ImportReviewEdit.row_number.in_(wanted)
        )
    ):
        if edit.discard:
            discarded.add(edit.row_number)
        else:
            edits.setdefault(edit.row_number, {})[edit.header] = edit.value
    issues: dict[int, list[dict[str, Any]]] = {}
    for found in session.scalars(
        sa.select(ImportReviewIssue)
        .where(ImportReviewIssue.job_id == job.id, ImportReviewIssue.row_number.in_(wanted))
        .order_by(ImportReviewIssue.id)
    ):
        issues.setdefault(found.row_number, []).append(
            {
                "column": found.column,
                "field": found.field,
                "code": found.code,
                "message": found.message,
                "suggestion": found.suggestion,
                "severity": found.severity,
            }
        )
    out = []
    for number in wanted:
        cells = patched(chunks.cells(number) or [], edits.get(number), headers)
        out.append(
            {
                "row": number,
                "cells": {
                    h: "" if i >= len(cells) or cells[i] is None else cell_text(cells[i])
                    for i, h in enumerate(headers)
                },
                "issues": issues.get(number, []),
                "discarded": number in discarded,
            }
        )
    return out


# ---- edits --------------------------------------------------------------------------------


def edit_rows(job: ImportJob, wanted: Sequence[RowEdit]) -> list[dict[str, Any]]:
    """Store the edits (read by `bodies.row_edits` against the job's headers), re-validate
    the rows they touch at once, answer their new state."""
    db = get_database()
    with db.read() as session:
        review = _done_review(session, job)
        target = target_of(session, job)
        headers = list(job.headers or [])
        chunks = _Chunks(review.chunks or [])
        numbers = list(dict.fromkeys(w.row for w in wanted))
        originals = {n: chunks.cells(n) for n in numbers}
        missing = [n for n, cells in originals.items() if cells is None]
        if missing:
            raise BadRequest("import-003", f"row {missing[0]} is not a data row of this file")
        edits, discarded = edits_of(session, job.id)
        was_bad, first_of = _stored_errors(session, job.id, numbers)
        generation = review.generation
        columns = mapping.resolve_mapping(
            headers, target.specs, review.mapping, strict=False
        ).columns
    checker = RowChecker(target, headers, columns, job)
    before = {n: patched(originals[n] or [], edits.get(n), headers) for n in numbers}
    was_discarded = {n for n in numbers if n in discarded}
    for w in wanted:
        for header, value in (w.cells or {}).items():
            edits.setdefault(w.row, {})[header] = value
        if w.discard is True:
            discarded.add(w.row)
        elif w.discard is False:
            discarded.discard(w.row)
    after = {n: patched(originals[n] or [], edits.get(n), headers) for n in numbers}
    # The forecast counted a row only if the whole-file check found it valid; a row is
    # checked here without the file's other keys, so a duplicate stays one while its key
    # is unchanged (a changed key is not looked for among the other rows).
    old = [
        r
        for r in checker.check([(n, before[n]) for n in numbers if n not in was_discarded])
        if r.row_number not in was_bad
    ]
    dupes = {
        n: first
        for n, first in first_of.items()
        if checker.key_of(after[n]) == checker.key_of(before[n])
    }
    new = checker.check([(n, after[n]) for n in numbers], dupes)
    with db.write() as session:
        conn = session.connection()
        if (
            session.scalar(sa.select(ImportReview.generation).where(ImportReview.job_id == job.id))
            != generation
        ):
            raise Conflict("import-032", "The draft changed meanwhile; read the rows again")
        delta = {"create": 0, "update": 0, "skip": 0}
        for outcome in checker.forecast(conn, job, old).values():
            delta[outcome] -= 1
        delta["skip"] -= len(was_discarded)
        kept = [r for r in new if r.row_number not in discarded]
        for outcome in checker.forecast(conn, job, kept).values():
            delta[outcome] += 1
        delta["skip"] += len([n for n in numbers if n in discarded])
        _store(conn, job.id, wanted, edits)
        conn.execute(
            issues_table.delete().where(
                issues_table.c.job_id == job.id, issues_table.c.row_number.in_(numbers)
            )
        )
        found = [
            {**issue, "job_id": job.id, "row_number": r.row_number}
            for r in new
            for issue in r.issues
        ]
        if found:
            conn.execute(sa.insert(issues_table), found)
        forecast = dict(review.forecast or {})
        for k, v in delta.items():
            forecast[k] = max(int(forecast.get(k, 0)) + v, 0)
        conn.execute(reviews.update().where(reviews.c.job_id == job.id).values(forecast=forecast))
        return render(session, job, chunks, numbers)


def _stored_errors(
    session: Session, job_id: str, numbers: Sequence[int]
) -> tuple[set[int], dict[int, int]]:
    """Of `numbers`: the rows the check found invalid, and each duplicate's first row."""
    bad: set[int] = set()
    first_of: dict[int, int] = {}
    for number, code, message in session.execute(
        sa.select(issues_table.c.row_number, issues_table.c.code, issues_table.c.message).where(
            issues_table.c.job_id == job_id,
            issues_table.c.row_number.in_(list(numbers)),
            issues_table.c.severity == "error",
        )
    ):
        bad.add(number)
        found = _FIRST_ROW.search(message) if code == "duplicate" else None
        if found:
            first_of[number] = int(found.group(1))
    return bad, first_of


_FIRST_ROW = re.compile(r"duplicate of row (\d+)")


def _store(
    conn: Any,
    job_id: str,
    wanted: Iterable[RowEdit],
    edits: dict[int, dict[str, str | None]],
) -> None:
    for w in wanted:
        n, cells = w.row, w.cells or {}
        headers = list(cells)
        if w.discard is not None:
            headers.append("")
        if headers:
            conn.execute(
                edits_table.delete().where(
                    edits_table.c.job_id == job_id,
                    edits_table.c.row_number == n,
                    edits_table.c.header.in_(headers),
                )
            )
        values = [
            {"job_id": job_id, "row_number": n, "header": h, "value": edits[n][h], "discard": False}
            for h in cells
        ]
        if w.discard is True:
            values.append(
                {"job_id": job_id, "row_number": n, "header": "", "value": None, "discard": True}
            )
        if values:
            conn.execute(sa.insert(edits_table), values)


# ---- at commit ----------------------------------------------------------------------------


def apply_edits(
    conn: Any, job: ImportJob, batch: list[list[Any]]
) -> tuple[list[list[Any]], list[list[Any]]]:
    """A chunk's rows with the review's edits laid over: (rows to import, rows discarded).
    One indexed query for the chunk's row range; a job never reviewed finds nothing."""
    if not batch:
        return batch, []
    found = conn.execute(
        sa.select(
            edits_table.c.row_number,
            edits_table.c.header,
            edits_table.c.value,
            edits_table.c.discard,
        ).where(
            edits_table.c.job_id == job.id,
            edits_table.c.row_number.between(batch[0][0], batch[-1][0]),
        )
    ).all()
    if not found:
        return batch, []
    headers = list(job.headers or [])
    changes: dict[int, dict[str, str | None]] = {}
    dropped: set[int] = set()
    for number, header, value, discard in found:
        if discard:
            dropped.add(number)
        else:
            changes.setdefault(number, {})[header] = value
    kept, discarded = [], []
    for row in batch:
        if row[0] in dropped:
            discarded.append(row)
        else:
            kept.append([row[0], patched(row[1], changes.get(row[0]), headers), *row[2:]])
    return kept, discarded
