"""The review's routes: the rows grid, its edits, and changes to the draft."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, Query, Request
from pydantic import BeforeValidator
from starlette.concurrency import run_in_threadpool

from loadbay.auth import CanImport, Principal
from loadbay.catalog.org_settings import locale_for
from loadbay.db import Database, get_database
from loadbay.deps import AppDatabase, AppRuntime, Runtime
from loadbay.errors import BadRequest, Conflict
from loadbay.imports import mapping, review, review_rows, service, values
from loadbay.imports.models import ImportJob
from loadbay.imports.schemas import job_view
from loadbay.imports.values import rules_of
from loadbay.pagination import ok, paginate
from loadbay.parsing import PageQuery
from loadbay.routing import Router
from loadbay.storage import get_storage

router = Router()
DRAFT_KEYS = ("sheet", "headerRow", "mapping", "valueMap", "locale")


class RowsQuery(PageQuery):
    """The rows grid's paging (up to 500 a page); its filters are checked with the job's
    review, once the job is found."""

    module = "import"
    max_limit = 500
    filter: str = "all"
    column: Annotated[str | None, BeforeValidator(lambda raw: raw or None)] = None
    reason: Annotated[str | None, BeforeValidator(lambda raw: raw or None)] = None


def _draft(principal: Principal, code: str, db: Database | None = None) -> ImportJob:
    """The job while it is a preview (409 after); `db`: the app's (the console's calls:
    the process's)."""
    with (db or get_database()).read() as session:
        job = service.get_job(session, principal.org, code)
    if job.confirmed or job.phase != "preview":
        raise Conflict("import-032", f"Import job {code} is already confirmed or cancelled")
    return job


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
    job = _draft(principal, code, db)
    return ok(review_rows.edit_rows(job, payload))


def _change_draft(
    principal: Principal, code: str, body: dict[str, Any], run: Runtime | None = None
) -> ImportJob:
    """`run`: what the app was built with (the console's calls: the process's)."""
    from loadbay.imports.jobs_routes import read_preview, remember_structure, target_id_of
    from loadbay.imports.queries import mapping_history
    from loadbay.imports.target import load_target

    db = run.db if run is not None else get_database()
    job = _draft(principal, code, db)
    options = dict(job.options or {})
    if body.get("sheet") not in (None, ""):
        sheet = str(body["sheet"]).strip()[:200]
        if sheet != job.sheet_name and "headerRow" not in body:
            options.pop("headerRow", None)  # found again: the old one was another sheet's
        job.sheet_name = sheet
    if "headerRow" in body:
        options.pop("headerRow", None)
        header_row = service.header_row_of(body.get("headerRow"))
        if header_row is not None:
            options["headerRow"] = header_row
    tag = body.get("locale")
    if tag is not None and (not isinstance(tag, str) or not tag.strip()):
        raise BadRequest("import-003", "locale must be a BCP 47 tag like id-ID")
    job.options = options
    with db.read() as session:
        target = load_target(session, principal.org, job.type, target_id_of(job))
        history = mapping_history(session, principal.org, target)
        if body.get("locale") is not None:  # stored as the rules the upload would use
            rules = locale_for(session, principal.org, body["locale"].strip(), by_default=True)
            options["locale"] = rules.as_options() if rules is not None else None
            job.options = options
    if body.get("valueMap") is not None:  # each `to` must fit its field, as at confirm
        options["valueMap"] = values.parse_value_map(body["valueMap"], target, rules_of(job))
        job.options = options
    items = body.get("mapping")
    if items is not None and not (
        isinstance(items, list) and all(isinstance(i, dict) for i in items)
    ):
        raise BadRequest("import-003", "mapping must be a list of {id, headerColumn} objects")
    storage = run.storage if run is not None else get_storage()
    settings = run.settings if run is not None else None
    with storage.local_copy(job.file_key) as path:
        preview = read_preview(path, job, target, [] if items else history, settings)
    remember_structure(job, preview)
    if items:  # a conflict is a 400 naming it, as at confirm
        chosen = mapping.resolve_mapping(job.headers or [], target.specs, items, strict=False)
        job.mapping = chosen.items() + [
            {"headerColumn": h, "ignore": True} for h in chosen.ignored if chosen.why[h] == "ignore"
        ]
        job.options = {**(job.options or {}), "draftMapping": True}
    draft = job.mapping if items else preview.suggested
    with db.write() as session:
        stored = service.get_job(session, principal.org, code)
        if stored.confirmed or stored.phase != "preview":
            raise Conflict("import-032", f"Import job {code} is already confirmed or cancelled")
        stored.sheet_name, stored.headers = job.sheet_name, job.headers
        stored.options, stored.mapping = job.options, job.mapping
        stored.updated_by = principal.email
        generation = review.start(session, stored, draft, preview.total_rows)
    review.enqueue(code, generation)
    with db.read() as session:
        return service.get_job(session, principal.org, code)


@router.patch("/import-jobs/{code}", response_model=None, tags=["import-jobs"])
async def change_import_draft(
    code: str, principal: CanImport, run: AppRuntime, payload: Annotated[Any, Body()] = None
) -> dict[str, Any]:
    """Change a preview's draft before confirming it: `sheet`, `headerRow`, `mapping`
    (as at confirm; a conflict → 400 `import-003` naming it), `valueMap` (`{fieldId:
    {from: to}}`) and `locale`. Validation starts again over the whole file (edits
    made in the review are kept); answers the job view with its `validation`."""
    body = {} if payload is None else payload
    if not isinstance(body, dict) or not set(body) & set(DRAFT_KEYS):
        raise BadRequest("import-003", f"Give one of {', '.join(DRAFT_KEYS)}")
    job = await run_in_threadpool(_change_draft, principal, code, body, run)
    with run.db.read() as session:
        validation = review.summary(session, code)
    return ok({**job_view(job), "validation": validation})
