"""The import-job view: upload with a preview, confirm with a mapping, poll, cancel.

A job here is the same row `/import-monitoring` shows (its `code` is the
monitoring `_id`). A preview stays hidden from monitoring until it is confirmed.
The preview reads the file once: the first rows are validated with the
suggested mapping, the rest only counted. The logic is the service's
(`imports/jobs.py`, `imports/preview.py`); these routes parse, wait and answer.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

from fastapi import Body, Request, Response
from starlette.concurrency import run_in_threadpool

from loadbay import idempotency
from loadbay.auth import CanImport, Principal
from loadbay.db import Database
from loadbay.deps import AppDatabase, AppRuntime, ReadSession, Runtime
from loadbay.errors import BadRequest
from loadbay.imports import jobs, review, service
from loadbay.imports.jobs import load_job as load_job  # wait_for polls with it
from loadbay.imports.models import ImportJob
from loadbay.imports.schemas import job_view
from loadbay.imports.upload import receive
from loadbay.pagination import ok
from loadbay.queue import enqueue
from loadbay.routing import Router

router = Router()

POLL_SECONDS = 0.2


async def _enqueue(code: str) -> None:
    await run_in_threadpool(enqueue, "plan", code)  # after the commit, off the event loop


@router.post("/import-jobs", status_code=201, response_model=None, tags=["import-jobs"])
async def create_import_job(request: Request, principal: CanImport, run: AppRuntime) -> Any:
    """Upload a file and preview it (multipart: `file`, `dataTypeId` or `flowId`,
    `hubId`, `importMode`, `matchField`, `importConfigId`, `hasHeaderRow`,
    `showPreview`, and `sheet` (a name or 0-based index), `headerRow` (1-based),
    `unmappedColumns` (`ignore`|`error`)).

    The preview answers `headers`, `totalRows`, `previewRows`, `suggestedMapping`, and
    the file's structure: `sheets: [{name, index, rows}]`, `sheet` (read), `headerRow`
    (found or given), `rowsAboveHeader` (non-blank rows above it, not data), `rawRows`
    (rows 1-20 as cell texts, `[]` for a blank row), `unmappedColumns`,
    `ignoredColumns`, `missingRequiredFields`, `suggestionSources`
    (`{header: exact|normalised|memory|config|words}`; `words`: the header and the
    field title share their words, as "Outlet Name" and Name), and `validation` (the
    whole file checked in the background with the import's validator: `{status:
    Pending|Running|Done|Failed, processedRows, totalRows, valid, invalid, warnings,
    forecast: {create, update, skip}, errors: [{column, field, code, reason, count,
    firstRows}]}`; poll `GET /import-jobs/{code}`, whose `status` stays `Queued`)."""
    return await idempotency.idempotent(
        request, principal.org, "import-jobs", 201, lambda: _create_job(request, principal, run)
    )


async def _create_job(request: Request, principal: Principal, run: Runtime) -> dict[str, Any]:
    settings = run.settings
    upload = await receive(request, settings.max_upload_bytes, settings.data_dir / "tmp")
    try:
        code, body = await run_in_threadpool(jobs.accept, principal, upload, run=run)
    finally:
        upload.discard()
    if body is not None:
        await run_in_threadpool(review.enqueue, code, body.pop("generation"))
        body["validation"] = await run_in_threadpool(jobs.validation, code, run.db)
        return ok(body)
    await _enqueue(code)
    return ok(job_view(await run_in_threadpool(load_job, principal.org, code, run.db)))


# ---- confirm -----------------------------------------------------------------------------


async def wait_for(org: str, code: str, seconds: float, db: Database) -> ImportJob:
    """Poll the job in short read sessions until it is done or the time is up."""
    deadline = time.monotonic() + seconds
    while True:
        job = await run_in_threadpool(load_job, org, code, db)
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
    await run_in_threadpool(jobs.confirm, principal, code, body, run=run)
    await _enqueue(code)
    job = await wait_for(principal.org, code, run.settings.confirm_wait_seconds, run.db)
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


@router.post("/import-jobs/{code}/cancel", response_model=None, tags=["import-jobs"])
def cancel_import_job(code: str, principal: CanImport, db: AppDatabase) -> dict[str, Any]:
    return ok(job_view(jobs.cancel(principal, code, db)))
