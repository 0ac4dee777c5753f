"""The import-job view: upload with a preview, confirm with a mapping, poll, cancel.

A job here is the same row `/import-monitoring` shows (its `code` is the
monitoring `_id`). A preview stays hidden from monitoring until it is confirmed.
The preview reads the file once: the first rows are validated with the
suggested mapping, the rest only counted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Body, Request, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from loadbay import idempotency
from loadbay.auth import CanImport, Principal
from loadbay.db import Database, get_database, table_of
from loadbay.deps import AppDatabase, AppRuntime, AppSettings, ReadSession, Runtime
from loadbay.errors import ApiError, BadRequest, Conflict, Unprocessable
from loadbay.imports import mapping, review, service, state, values
from loadbay.imports.bodies import (
    MappingContext,
    MappingIn,
    RulesContext,
    RulesIn,
    StructureIn,
)
from loadbay.imports.invalid_rule import no_data_rows
from loadbay.imports.limits import limits
from loadbay.imports.models import ImportJob
from loadbay.imports.preview_read import Head, read_head
from loadbay.imports.queries import mapping_history as mapping_history  # the console's too
from loadbay.imports.schemas import job_view
from loadbay.imports.target import Target, load_target
from loadbay.imports.upload import Upload, receive
from loadbay.imports.validate import Checked, compile_validator
from loadbay.pagination import ok
from loadbay.parsing import validate
from loadbay.queue import enqueue
from loadbay.routing import Router
from loadbay.settings import Settings, get_settings
from loadbay.tabular.readers import TableError

router = Router()

PREVIEW_ROWS = 10
POLL_SECONDS = 0.2
FALSE_WORDS = ("false", "0", "no", "off")
jobs = table_of(ImportJob)


# ---- preview -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Preview:
    headers: list[str]
    total_rows: int
    rows: list[dict[str, Any]]
    suggested: list[dict[str, str]]
    head: Head | None = None
    resolution: mapping.Resolution | None = None


def target_id_of(job: ImportJob) -> str:
    return str(job.data_type_id if job.type == "datasource" else job.flow_id)


def suggestion(
    headers: Sequence[str],
    target: Target,
    history: Sequence[Sequence[dict[str, Any]]],
    preset: Sequence[dict[str, Any]] | None = None,
) -> list[dict[str, str]]:
    """[{id, headerColumn}] in the target's field order; a preset (config) wins when given."""
    found = mapping.resolve_mapping(
        headers, target.specs, preset=preset, history=history, strict=False
    )
    return found.items()


def table_error(exc: TableError) -> ApiError:
    code = str(getattr(exc, "code", None) or "import-015")
    message = str(getattr(exc, "message", None) or exc)
    if code.endswith("-002"):
        detail = getattr(exc, "detail", None)
        return Unprocessable(code, message, extra={"detail": detail} if detail else None)
    return BadRequest(code, message)


def _preview_row(row: Checked, header_of: dict[str, str]) -> dict[str, Any]:
    """A value shows only when its cell is valid; a failed cell is in `errors` instead."""
    bad = {reason["column"] for reason in row.reasons}
    values = {f: v for f, v in row.values.items() if header_of.get(f) not in bad}
    return {"rowNumber": row.row_number, "values": values, "errors": row.reasons}


def read_preview(
    path: Path,
    job: ImportJob,
    target: Target,
    history: Sequence[Sequence[dict[str, Any]]],
    settings: Settings | None = None,
) -> Preview:
    """The file's structure (sheets, header row, first raw rows), the suggested mapping
    with every column not mapped, and the first rows validated with it. `settings`: the
    app's (the process's when not given) limit the child that reads the file."""
    settings = settings or get_settings()
    options = job.options or {}
    try:
        head = read_head(
            path,
            job.file_format,
            has_header_row=job.has_header_row,
            sheet=job.sheet_name,
            limits=limits(),
            n=PREVIEW_ROWS,
            memory_bytes=settings.preview_memory_bytes,
            timeout=settings.preview_timeout_seconds,
            header_row=options.get("headerRow"),
        )
    except TableError as exc:
        raise table_error(exc) from None
    headers, total = head.headers, head.total
    if total == 0:
        raise BadRequest("import-015", no_data_rows(head.sheet, head.header_row, head.sheets))
    resolved = mapping.resolve_mapping(
        headers, target.specs, preset=job.mapping, history=history, strict=False
    )
    suggested = resolved.items()
    header_of = {item["id"]: item["headerColumn"] for item in suggested}
    check = compile_validator(
        target, headers, resolved.columns, settings.date_formats, **values.rules_of(job)
    )
    rows = [_preview_row(check(number, cells), header_of) for number, cells in head.rows]
    return Preview(headers, total, rows, suggested, head, resolved)


def preview_body(job: ImportJob, preview: Preview) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": job.id,
        "hasHeaderRow": job.has_header_row,
        "headers": preview.headers,
        "totalRows": preview.total_rows,
        "previewRows": preview.rows,
        "suggestedMapping": preview.suggested,
    }
    head, resolved = preview.head, preview.resolution
    if head is not None and resolved is not None:
        body.update(
            sheets=head.sheets,
            sheet=head.sheet,
            headerRow=head.header_row,
            rowsAboveHeader=head.rows_above_header,
            rawRows=head.raw_rows,
            unmappedColumns=resolved.unmapped,
            ignoredColumns=resolved.ignored,
            missingRequiredFields=resolved.missing_required,
            suggestionSources=resolved.sources,
        )
    options = job.options or {}
    body["valueMap"] = options.get("valueMap") or {}
    body["locale"] = (options.get("locale") or {}).get("tag")
    return body


def remember_structure(job: ImportJob, preview: Preview) -> None:
    """The confirm and the plan step read the sheet and header row the preview showed."""
    job.headers = preview.headers
    if preview.head is not None:
        job.sheet_name = preview.head.sheet
        options = dict(job.options or {})
        if preview.head.header_row is not None:
            options["headerRow"] = preview.head.header_row
        options["rowsAboveHeader"] = preview.head.rows_above_header
        job.options = options


def _kind(fields: dict[str, str]) -> str:
    data_type = (fields.get("dataTypeId") or "").strip()
    flow = (fields.get("flowId") or "").strip()
    if data_type and flow:
        raise BadRequest("import-003", "Give either dataTypeId or flowId, not both")
    if not data_type and not flow:
        raise BadRequest("import-001", "The dataTypeId or flowId field is required")
    return "task" if flow else "datasource"


def _accept(
    principal: Principal,
    upload: Upload,
    db: Database | None = None,
    settings: Settings | None = None,
) -> tuple[str, dict[str, Any] | None]:
    """Create the job; answers its id and, when previewing, the preview body. `db` and
    `settings`: the app's (the process's when not given: the console's calls)."""
    kind = _kind(upload.fields)
    show = (upload.fields.get("showPreview") or "true").strip().lower() not in FALSE_WORDS
    idempotency.claim(upload.digest())  # a repeat answers here, before any work
    db = db or get_database()
    with db.read() as session:
        job, target = service.prepare(
            session, principal, kind, upload.fields, upload, by_default=True
        )
        remember = show and bool((job.options or {}).get("useMemory"))
        history = mapping_history(session, principal.org, target) if remember else []
        if remember:  # suggested first: the value maps this organisation confirmed before
            remembered = values.remembered_value_map(session, principal.org, target)
            if remembered:
                job.options = {**(job.options or {}), "valueMap": remembered}
    body = None
    if show:
        assert upload.path is not None
        preview = read_preview(upload.path, job, target, history, settings)
        remember_structure(job, preview)
        job.total_rows = preview.total_rows  # the job view's totalItems until the plan counts
        body = preview_body(job, preview)
    job.phase, job.confirmed = ("preview", False) if show else ("queued", True)
    service.store_upload(job, upload)
    try:
        with db.write() as session:
            session.add(job)
            idempotency.record(session, job.id)
            if body is not None:  # the whole-file check (imports/review.py), sent after commit
                session.flush()
                body["generation"] = review.start(
                    session, job, body["suggestedMapping"], body["totalRows"]
                )
    except BaseException:
        service.drop_upload(job)
        raise
    return job.id, body


def _validation(db: Database, code: str) -> dict[str, Any] | None:
    with db.read() as session:
        return review.summary(session, code)


def load_job(db: Database, org: str, code: str) -> ImportJob:
    with db.read() as session:
        return service.get_job(session, org, code)


async def _enqueue(code: str) -> None:
    await run_in_threadpool(enqueue, "plan", code)  # after the commit, off the event loop


@router.post("/import-jobs", status_code=201, response_model=None, tags=["import-jobs"])
async def create_import_job(
    request: Request, principal: CanImport, db: AppDatabase, settings: AppSettings
) -> Any:
    """Upload a file and preview it (multipart: `file`, `dataTypeId` or `flowId`,
    `hubId`, `importMode`, `matchField`, `importConfigId`, `hasHeaderRow`,
    `showPreview`, and `sheet` (a name or 0-based index), `headerRow` (1-based),
    `unmappedColumns` (`ignore`|`error`)).

    The preview answers `headers`, `totalRows`, `previewRows`, `suggestedMapping`, and
    the file's structure: `sheets: [{name, index, rows}]`, `sheet` (read), `headerRow`
    (found or given), `rowsAboveHeader` (non-blank rows above it, not data), `rawRows`
    (rows 1-20 as cell texts, `[]` for a blank row), `unmappedColumns`,
    `ignoredColumns`, `missingRequiredFields`, `suggestionSources`
    (`{header: exact|normalised|memory|config}`), and `validation` (the whole file
    checked in the background with the import's validator: `{status:
    Pending|Running|Done|Failed, processedRows, totalRows, valid, invalid, warnings,
    forecast: {create, update, skip}, errors: [{column, field, code, reason, count,
    firstRows}]}`; poll `GET /import-jobs/{code}`, whose `status` stays `Queued`)."""
    return await idempotency.idempotent(
        request,
        principal.org,
        "import-jobs",
        201,
        lambda: _create_job(request, principal, db, settings),
    )


async def _create_job(
    request: Request, principal: Principal, db: Database, settings: Settings
) -> dict[str, Any]:
    upload = await receive(request, settings.max_upload_bytes, settings.data_dir / "tmp")
    try:
        code, body = await run_in_threadpool(_accept, principal, upload, db, settings)
    finally:
        upload.discard()
    if body is not None:
        await run_in_threadpool(review.enqueue, code, body.pop("generation"))
        body["validation"] = await run_in_threadpool(_validation, db, code)
        return ok(body)
    await _enqueue(code)
    return ok(job_view(await run_in_threadpool(load_job, db, principal.org, code)))


# ---- confirm -----------------------------------------------------------------------------


def confirm_job(
    session: Session,
    principal: Principal,
    code: str,
    body: dict[str, Any],
    restructured: ImportJob | None = None,
) -> None:
    """Store the mapping, mode and match field and queue the job. The caller enqueues
    the plan step once this is committed. `restructured`: the job as read again with
    the confirm's `sheet`/`headerRow` (see `reread`)."""
    job = service.get_job(session, principal.org, code)
    if job.confirmed or job.phase != "preview":
        raise Conflict("import-032", f"Import job {code} is already confirmed or cancelled")
    target = load_target(session, principal.org, job.type, target_id_of(job))
    options = dict((restructured or job).options or {})

    def config_mapping(config_id: str) -> list[dict[str, Any]]:
        return service.config_mapping(session, principal.org, target, config_id)

    context = MappingContext(job, target, options, config_mapping)
    chosen = validate(MappingIn, body, "import", context)
    structure: dict[str, Any] = {}
    if restructured is not None:
        structure = {"headers": restructured.headers, "sheet_name": restructured.sheet_name}
    headers = list(structure.get("headers") or job.headers or [])
    policy = chosen.unmappedColumns
    if chosen.mapping is None:
        history = mapping_history(session, principal.org, target)
        resolved = mapping.resolve_mapping(
            headers,
            target.specs,
            preset=job.mapping,
            history=history,
            unmapped=policy,
        )
    else:
        resolved = mapping.resolve_mapping(headers, target.specs, chosen.mapping, unmapped=policy)
    rules = validate(RulesIn, body, "import", RulesContext(target, values.rules_of(job)))
    options.update(
        unmappedColumns=policy, ignoredColumns=resolved.ignored, invalidRows=rules.invalidRows
    )
    if "valueMap" in rules.model_fields_set:  # else the draft's (PATCH, or the preview's)
        options["valueMap"] = rules.valueMap
    if rules.maxInvalid is not None:
        options["maxInvalid"] = rules.maxInvalid
    changed = state.confirm(
        session,
        code,
        mapping=resolved.items(),
        options=options,
        **structure,
        import_mode=chosen.importMode,
        match_field=chosen.matchField,
        import_config_id=chosen.importConfigId or job.import_config_id,
        updated_by=principal.email,
    )
    if not changed:  # a concurrent confirm or cancel got there first
        raise Conflict("import-032", f"Import job {code} is already confirmed or cancelled")


def _confirm(run: Runtime, principal: Principal, code: str, body: dict[str, Any]) -> None:
    restructured = reread(run, principal, code, body)
    with run.db.write() as session:
        confirm_job(session, principal, code, body, restructured)


def reread(run: Runtime, principal: Principal, code: str, body: dict[str, Any]) -> ImportJob | None:
    """A confirm that names another `sheet` or `headerRow` reads the file again (in the
    preview's limited child) so the mapping is checked against that sheet's headers;
    answers the job with its new structure, or None when neither is given."""
    if not StructureIn.asked(body):
        return None
    job = load_job(run.db, principal.org, code)
    if job.confirmed or job.phase != "preview":
        return None  # confirm_job answers the conflict
    asked = validate(StructureIn, body, "import")
    if asked.sheet is not None:
        job.sheet_name = asked.sheet
    options = dict(job.options or {})
    options.pop("headerRow", None)
    if asked.headerRow is not None:
        options["headerRow"] = asked.headerRow
    job.options = options
    with run.db.read() as session:
        target = load_target(session, principal.org, job.type, target_id_of(job))
    with run.storage.local_copy(job.file_key) as path:
        remember_structure(job, read_preview(path, job, target, [], run.settings))
    return job


async def wait_for(db: Database, org: str, code: str, seconds: float) -> ImportJob:
    """Poll the job in short read sessions until it is done or the time is up."""
    deadline = time.monotonic() + seconds
    while True:
        job = await run_in_threadpool(load_job, db, org, code)
        left = deadline - time.monotonic()
        if job.phase == "done" or left <= 0:
            return job
        await asyncio.sleep(min(POLL_SECONDS, left))


@router.put("/import-jobs/{code}", status_code=201, response_model=None, tags=["import-jobs"])
async def confirm_import_job(
    code: str,
    response: Response,
    principal: CanImport,
    run: AppRuntime,
    payload: Annotated[Any, Body()] = None,
) -> dict[str, Any]:
    """Confirm a preview: `mapping` (items `{id, headerColumn}` or `{headerColumn,
    ignore: true}`; a field named twice, a column used twice or a column not in the
    file → 400 `import-003` naming them), `importMode`, `matchField`,
    `importConfigId`, `unmappedColumns` (`ignore`|`error`, default `error`: a column
    neither mapped nor ignored → 400 naming it), `invalidRows` (`skip`, the default,
    or `block`: nothing is written unless every row is valid) and `maxInvalid` (a
    count, or a share like `"5%"`: above it the job fails before writing, saying why
    in `errorMessage`). The job view adds `ignoredColumns`."""
    body = {} if payload is None else payload
    if not isinstance(body, dict):
        raise BadRequest("import-003", "The body must be a JSON object")
    await run_in_threadpool(_confirm, run, principal, code, body)
    await _enqueue(code)
    job = await wait_for(run.db, principal.org, code, run.settings.confirm_wait_seconds)
    response.status_code = 201 if job.phase == "done" else 202
    return ok(job_view(job))


# ---- view and cancel ---------------------------------------------------------------------


@router.get("/import-jobs/{code}", response_model=None, tags=["import-jobs"])
def get_import_job(code: str, principal: CanImport, session: ReadSession) -> dict[str, Any]:
    job = service.get_job(session, principal.org, code)
    view = job_view(job)
    if job.phase == "preview":  # the whole-file check's progress and findings
        view["validation"] = review.summary(session, code)
    return ok(view)


def cancel_job(session: Session, principal: Principal, code: str) -> None:
    """A job not yet started stops at once; a running one after the chunk in flight."""
    service.get_job(session, principal.org, code)
    if state.cancel(session, code, principal.email) == "stopped":
        return
    flagged = state.cancel(session, code, principal.email, running=True)
    if flagged != "flagged":
        raise Conflict("import-032", f"Import job {code} has already finished")


def _cancel(db: Database, principal: Principal, code: str) -> ImportJob:
    with db.write() as session:
        cancel_job(session, principal, code)
    return load_job(db, principal.org, code)


@router.post("/import-jobs/{code}/cancel", response_model=None, tags=["import-jobs"])
def cancel_import_job(code: str, principal: CanImport, db: AppDatabase) -> dict[str, Any]:
    return ok(job_view(_cancel(db, principal, code)))
