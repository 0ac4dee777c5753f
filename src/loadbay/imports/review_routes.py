"""The review's routes: the rows grid, its edits, and changes to the draft."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, Query, Request
from pydantic import BeforeValidator
from starlette.concurrency import run_in_threadpool

from loadbay.auth import CanImport
from loadbay.deps import AppDatabase, AppRuntime
from loadbay.imports import bodies, draft, review, review_rows, service
from loadbay.imports.schemas import job_view
from loadbay.pagination import ok, paginate
from loadbay.parsing import PageQuery
from loadbay.routing import Router

router = Router()


class RowsQuery(PageQuery):
    """The rows grid's paging (up to 500 a page); its filters are checked with the job's
    review, once the job is found."""

    module = "import"
    max_limit = 500
    filter: str = "all"
    column: Annotated[str | None, BeforeValidator(lambda raw: raw or None)] = None
    reason: Annotated[str | None, BeforeValidator(lambda raw: raw or None)] = None


@router.get("/import-jobs/{code}/rows", response_model=None, tags=["import-jobs"])
def list_review_rows(
    code: str,
    request: Request,
    principal: CanImport,
    db: AppDatabase,
    params: Annotated[RowsQuery, Query()],
) -> dict[str, Any]:
    """The previewed file's rows, in file order, as a Laravel paginator of `{row (the
    1-based row of the file), cells: {header: text} (with the review's edits), issues:
    [{column, field, code, message, suggestion, severity: error|warning}], discarded}`.
    `filter=all|valid|invalid` (a discarded row is neither valid nor invalid), `column`
    (a header) and `reason` (a code like `required`, or the grouped errors' `reason`)
    keep the rows with such an issue. 409 `import-032` until `validation.status` is
    Done."""
    number, per_page = params.page, params.limit
    with db.read() as session:
        job = service.get_job(session, principal.org, code)
        items, total = review_rows.page_rows(
            session, job, params.filter, params.column, params.reason, number, per_page
        )
    return ok(paginate(request, items, total, number, per_page))


@router.patch("/import-jobs/{code}/rows", response_model=None, tags=["import-jobs"])
def edit_review_rows(
    code: str, principal: CanImport, db: AppDatabase, payload: Annotated[Any, Body()] = None
) -> dict[str, Any]:
    """Edit cells or discard rows of a previewed file: `{rows: [{row, cells: {header:
    text}} | {row, discard: true|false}]}`. Each row is validated again at once (the
    import's validator) and answered in its new state, as in `GET .../rows`. Edits are
    stored and applied when the import commits; a discarded row is counted as skipped."""
    job = draft.draft_job(principal, code, db)
    edits = bodies.row_edits(payload, list(job.headers or []))
    return ok(review_rows.edit_rows(job, edits))


@router.patch("/import-jobs/{code}", response_model=None, tags=["import-jobs"])
async def change_import_draft(
    code: str, principal: CanImport, run: AppRuntime, payload: Annotated[Any, Body()] = None
) -> dict[str, Any]:
    """Change a preview's draft before confirming it: `sheet`, `headerRow`, `mapping`
    (as at confirm; a conflict → 400 `import-003` naming it), `valueMap` (`{fieldId:
    {from: to}}`) and `locale`. Validation starts again over the whole file (edits
    made in the review are kept); answers the job view with its `validation`."""
    change = bodies.draft_change(payload)
    job = await run_in_threadpool(draft.change_draft, principal, code, change, run=run)
    with run.db.read() as session:
        validation = review.summary(session, code)
    return ok({**job_view(job), "validation": validation})
