"""HTTP routes: uploads, monitoring."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request
from starlette.concurrency import run_in_threadpool

from loadbay import idempotency
from loadbay.auth import CanImport, Principal
from loadbay.db import Database
from loadbay.deps import AppDatabase, AppSettings, AppStorage, ReadSession
from loadbay.deps import storage as app_storage
from loadbay.errors import BadRequest, NotFound
from loadbay.imports import service
from loadbay.imports.models import ImportJob
from loadbay.imports.queries import jobs_query
from loadbay.imports.schemas import SORTABLE, MonitoringQuery, records_for
from loadbay.imports.target import load_target
from loadbay.imports.template import ensure_template
from loadbay.imports.upload import Upload, receive
from loadbay.pagination import ok, paginated
from loadbay.queue import enqueue
from loadbay.routing import Router
from loadbay.settings import Settings
from loadbay.storage import Storage

router = Router()


async def _create(
    request: Request, principal: Principal, kind: str, db: Database, settings: Settings
) -> dict[str, Any]:
    upload = await receive(request, settings.max_upload_bytes, settings.data_dir / "tmp")
    try:
        job_id = await run_in_threadpool(_accept, db, app_storage(request), principal, kind, upload)
    finally:
        upload.discard()
    # After the commit: a worker never sees a job its database lacks. Off the event
    # loop: enqueueing is a write to SQLite or Redis.
    await run_in_threadpool(enqueue, "plan", job_id)
    with db.read() as session:
        job = service.get_job(session, principal.org, job_id)
        return ok(
            records_for(session, [job])[0], message="Import process has been queued successfully"
        )


def _accept(db: Database, storage: Storage, principal: Principal, kind: str, upload: Upload) -> str:
    # Checked in a read, stored with no lock held, then the writer's turn only for the
    # insert: a slow store (S3, a busy disk) must not stall every other SQLite writer.
    idempotency.claim(upload.digest())  # a repeat answers here, before any work
    with db.read() as session:
        job, _target = service.prepare(session, principal, kind, upload.fields, upload)
    service.store_upload(job, upload, storage)  # the app's, where the plan step reads it
    try:
        with db.write() as session:
            session.add(job)
            idempotency.record(session, job.id)
    except BaseException:
        service.drop_upload(job, storage)
        raise
    return job.id


@router.post("/data/import")
async def import_data(
    request: Request, principal: CanImport, db: AppDatabase, settings: AppSettings
) -> Any:
    """The vendor's upload. Added beside its fields: `sheet` (a name or 0-based index;
    default the first sheet with a table), `headerRow` (1-based; default found past
    title rows) and `unmappedColumns` (`ignore`, the default: a column no field takes
    is ignored and listed in the monitoring record's `ignoredColumns`; `error`: the
    job fails naming it). An `Idempotency-Key` header makes a retry answer the first
    request's result."""
    return await idempotency.idempotent(
        request,
        principal.org,
        "data/import",
        200,
        lambda: _create(request, principal, "datasource", db, settings),
    )


@router.post("/tasks/import")
async def import_tasks(
    request: Request, principal: CanImport, db: AppDatabase, settings: AppSettings
) -> Any:
    """The vendor's task upload; takes `sheet`, `headerRow` and `unmappedColumns` as
    `POST /data/import` does, and an `Idempotency-Key` header."""
    return await idempotency.idempotent(
        request,
        principal.org,
        "tasks/import",
        200,
        lambda: _create(request, principal, "task", db, settings),
    )


@router.get("/import-template")
def import_template(
    principal: CanImport,
    session: ReadSession,
    settings: AppSettings,
    storage: AppStorage,
    dataTypeId: str | None = None,
    flowId: str | None = None,
) -> dict[str, Any]:
    """The template of a data type or flow: a signed link to an XLSX with its headers
    (required ones marked) and a sheet describing each field. `loadbay template` uses it."""
    if bool(dataTypeId) == bool(flowId):
        raise BadRequest("import-001", "Give exactly one of dataTypeId or flowId")
    kind, target_id = ("datasource", dataTypeId) if dataTypeId else ("task", flowId)
    target = load_target(session, principal.org, kind, str(target_id))
    key = ensure_template(principal.org, target, storage)  # where its link points
    name = f"{target.name} template.xlsx"
    link = storage.link(principal.org, key, name, settings.link_ttl_seconds)
    return ok({"fileTemplate": link, "filename": name, "type": kind, "targetId": target.id})


@router.get("/import-monitoring")
def list_monitoring(
    request: Request,
    principal: CanImport,
    session: ReadSession,
    params: Annotated[MonitoringQuery, Query()],
) -> dict[str, Any]:
    statuses = params.statuses() if params.status else None
    if statuses and "failed" in statuses:  # monitoring shows a cancelled job as failed
        statuses.append("cancelled")  # (DECISIONS)
    types = params.types() if params.type else None
    query = jobs_query(
        principal.org, types=types, statuses=statuses, data_type_id=params.dataTypeId
    )
    column = SORTABLE[params.sortBy]
    ordering = (
        [column.asc(), ImportJob.id.asc()]
        if params.sortOrder == "asc"
        else [column.desc(), ImportJob.id.desc()]
    )
    render = lambda jobs: records_for(session, jobs)  # noqa: E731
    return ok(paginated(request, session, query, ordering, params.page, params.limit, render))


@router.get("/import-monitoring/{job_id}")
def get_monitoring(job_id: str, principal: CanImport, session: ReadSession) -> dict[str, Any]:
    job = service.get_job(session, principal.org, job_id)
    if not job.confirmed:
        raise NotFound("import-004", "Import monitoring record not found")
    return ok(records_for(session, [job])[0])


from loadbay.imports.configs_routes import router as configs_router  # noqa: E402
from loadbay.imports.jobs_routes import router as jobs_router  # noqa: E402
from loadbay.imports.revert_routes import router as revert_router  # noqa: E402
from loadbay.imports.review_routes import router as review_router  # noqa: E402

router.include_router(jobs_router)
router.include_router(review_router)
router.include_router(revert_router)
router.include_router(configs_router)
from loadbay.imports.values_routes import router as values_router  # noqa: E402

router.include_router(values_router)
