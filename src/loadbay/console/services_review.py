"""The console's door into the import review: the draft's structure (sheets, header row,
columns), its changes through the service `PATCH /import-jobs/{code}` uses, the value
maps, the review grid and its edits, and the revert. Nothing here decides anything the
API does not: each call goes to the function the API route calls, handed what the app
was built with (`run`) as the API route hands it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from loadbay import queue
from loadbay.auth import Principal
from loadbay.catalog.models import Record, Task
from loadbay.deps import Runtime
from loadbay.imports import bodies, mapping, queries, review, review_rows, service
from loadbay.imports import draft as drafts
from loadbay.imports.models import ImportJob
from loadbay.imports.preview import read_job_head, target_id_of
from loadbay.imports.revert import request_job_revert
from loadbay.imports.review_models import ImportReview
from loadbay.imports.target import Target, load_target
from loadbay.imports.values import distinct_bad_values

# Where a suggested field came from, in the words the map page shows.
SOURCES = {
    "exact": "same name",
    "normalised": "similar spelling",
    "words": "similar name",
    "memory": "your earlier imports",
    "config": "saved import settings",
    "chosen": "your choice",
}


@dataclass(frozen=True)
class Column:
    index: int
    header: str
    samples: list[str]
    suggested: str | None  # field id
    source: str  # where the suggestion came from, in words


@dataclass(frozen=True)
class Draft:
    job: ImportJob
    target: Target
    total_rows: int
    columns: list[Column]
    sheets: list[dict[str, Any]] = field(default_factory=list)  # [{name, index, rows}]
    sheet: str | None = None
    header_row: int | None = None
    raw_rows: list[list[str]] = field(default_factory=list)
    validation: dict[str, Any] | None = None

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.job.options or {})

    @property
    def mapped(self) -> dict[str, str]:
        """field id → header, as the draft stands."""
        return {c.suggested: c.header for c in self.columns if c.suggested}


def _target(session: Any, principal: Principal, job: ImportJob) -> Target:
    return load_target(session, principal.org, job.type, target_id_of(job))


def draft(principal: Principal, code: str, run: Runtime) -> Draft:
    """The draft job as the preview reads it (sheet and header row as chosen), each
    column with sample values and the field it goes into: the user's choice once made,
    else the suggestion the upload made, and where that came from."""
    with run.db.read() as session:
        job = service.get_job(session, principal.org, code)
        tgt = _target(session, principal, job)
        remember = bool((job.options or {}).get("useMemory"))
        history = queries.mapping_history(session, principal.org, tgt) if remember else []
        validation = review.summary(session, code)
    options = job.options or {}
    # The counts were taken when the draft was read last (upload or change), and the
    # whole-file check makes its total exact: a page reads only the head it shows.
    total: int | None = validation["totalRows"] if validation is not None else None
    sheets: list[dict[str, Any]] | None = options.get("sheets")
    with run.storage.local_copy(job.file_key) as path:
        head = read_job_head(
            path, job, count=total is None or sheets is None, settings=run.settings
        )
    if total is None or sheets is None:
        total, sheets = head.total or 0, head.sheets
    chosen: dict[str, str]
    if options.get("draftMapping") and job.mapping:
        chosen = {i["headerColumn"]: i["id"] for i in job.mapping if i.get("id")}
        sources = dict.fromkeys(chosen, "chosen")
    else:
        resolved = mapping.resolve_mapping(
            head.headers, tgt.specs, preset=job.mapping, history=history, strict=False
        )
        chosen = {i["headerColumn"]: i["id"] for i in resolved.items()}
        sources = resolved.sources
    columns = []
    for index, header in enumerate(head.headers):
        samples: list[str] = []
        for _number, cells in head.rows:
            text = str(cells[index]) if index < len(cells) and cells[index] is not None else ""
            if text.strip() and text not in samples:
                samples.append(text)
        fid = chosen.get(header)
        source = SOURCES.get(sources.get(header, ""), "") if fid else ""
        columns.append(Column(index, header, samples[:3], fid, source))
    return Draft(
        job,
        tgt,
        total,
        columns,
        sheets=sheets,
        sheet=head.sheet,
        header_row=head.header_row,
        raw_rows=head.raw_rows,
        validation=validation,
    )


def change_draft(principal: Principal, code: str, body: dict[str, Any], run: Runtime) -> None:
    """`PATCH /import-jobs/{code}`: sheet, headerRow, mapping, valueMap or locale; the
    whole-file check starts again (and is enqueued) once the change is committed."""
    drafts.change_draft(principal, code, bodies.draft_change(body), run=run)


def job_of(principal: Principal, code: str, run: Runtime) -> ImportJob:
    with run.db.read() as session:
        return service.get_job(session, principal.org, code)


@dataclass(frozen=True)
class Check:
    """The whole-file check of a draft: its `validation` summary and the columns it
    checked (file index, header, field title), in file order."""

    job: ImportJob
    summary: dict[str, Any] | None
    columns: list[tuple[int, str, str]]
    target: Target


def check(principal: Principal, code: str, run: Runtime) -> Check:
    with run.db.read() as session:
        job = service.get_job(session, principal.org, code)
        summary = review.summary(session, code)
        found = session.get(ImportReview, code)
        items = list(found.mapping or []) if found is not None else []
        tgt = _target(session, principal, job)
    titles = {s.id: s.title for s in tgt.specs} | {"_id": "Record id (_id)"}
    mapped = {i["headerColumn"]: str(i["id"]) for i in items if i.get("id")}
    columns = [
        (i, h, titles.get(mapped[h], mapped[h]))
        for i, h in enumerate(job.headers or [])
        if h in mapped
    ]
    return Check(job, summary, columns, tgt)


# ---- value maps ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BadValue:
    field: str
    value: str
    count: int
    suggestion: str | None
    mapped_to: str | None  # what the draft's value map already turns it into


def bad_values(principal: Principal, code: str, run: Runtime) -> tuple[Target, list[BadValue]]:
    """Every value of an option or yes/no column that its field does not take as the file
    has it (`GET /import-jobs/{code}/values` with no value map), each with what the
    draft's value map turns it into, so a replacement already made can be changed."""
    with run.db.read() as session:
        job = service.get_job(session, principal.org, code)
        tgt = _target(session, principal, job)
        session.expunge(job)
    current: dict[str, dict[str, str]] = (job.options or {}).get("valueMap") or {}
    job.options = {k: v for k, v in (job.options or {}).items() if k != "valueMap"}
    found = distinct_bad_values(job, tgt, storage=run.storage)
    return tgt, [
        BadValue(
            v["field"],
            v["value"],
            v["count"],
            v["suggestion"],
            current.get(v["field"], {}).get(v["value"]),
        )
        for v in found
    ]


def value_map(principal: Principal, code: str, run: Runtime) -> dict[str, dict[str, str]]:
    with run.db.read() as session:
        job = service.get_job(session, principal.org, code)
    return dict((job.options or {}).get("valueMap") or {})


# ---- the review grid ----------------------------------------------------------------------


def rows(
    principal: Principal,
    code: str,
    kind: str,
    column: str | None,
    reason: str | None,
    page: int,
    per_page: int,
    run: Runtime,
) -> tuple[list[dict[str, Any]], int]:
    """One page of `GET /import-jobs/{code}/rows`."""
    with run.db.read() as session:
        job = service.get_job(session, principal.org, code)
        return review_rows.page_rows(session, job, kind, column, reason, page, per_page)


def edit_rows(
    principal: Principal, code: str, body: dict[str, Any], run: Runtime
) -> list[dict[str, Any]]:
    """`PATCH /import-jobs/{code}/rows`: the rows stored, checked again and answered."""
    job = drafts.draft_job(principal, code, run.db)
    return review_rows.edit_rows(job, bodies.row_edits(body, list(job.headers or [])))


# ---- revert -------------------------------------------------------------------------------


def revert(principal: Principal, code: str, run: Runtime) -> None:
    """`POST /import-jobs/{code}/revert`: queued, then sent once committed."""
    request_job_revert(principal, code, run.db)
    queue.enqueue("revert", code)


def revert_conflicts(
    principal: Principal, code: str, page: int, per_page: int, run: Runtime
) -> tuple[ImportJob, list[dict[str, Any]], int]:
    """A page of `GET /import-jobs/{code}/revert-conflicts`."""
    with run.db.read() as session:
        job = service.get_job(session, principal.org, code)
        items, total = queries.conflicts_page(session, code, page, per_page)
        ids = [i["_id"] for i in items]
        # what a person knows a record or task by: its key, or its title
        names = dict(
            session.execute(sa.select(Record.id, Record.data_id).where(Record.id.in_(ids))).all()
        ) | dict(session.execute(sa.select(Task.id, Task.title).where(Task.id.in_(ids))).all())
    return job, [{**i, "name": names.get(i["_id"])} for i in items], total
