"""`POST /import-jobs/{code}/revert` and `GET /import-jobs/{code}/revert-conflicts`."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from loadbay import queue
from loadbay.auth import CanImport
from loadbay.deps import AppDatabase, ReadSession
from loadbay.imports import service
from loadbay.imports.queries import conflicts_page
from loadbay.imports.revert import request_job_revert
from loadbay.imports.schemas import job_view
from loadbay.pagination import ok, page_params, paginate
from loadbay.routing import Router

router = Router()


@router.post("/import-jobs/{code}/revert", response_model=None, tags=["import-jobs"])
async def revert_import_job(code: str, principal: CanImport, db: AppDatabase) -> Any:
    job = await run_in_threadpool(request_job_revert, principal, code, db)
    await run_in_threadpool(queue.enqueue, "revert", code)  # after the commit, off the loop
    return JSONResponse(ok(job_view(job)), status_code=202)


@router.get("/import-jobs/{code}/revert-conflicts", response_model=None, tags=["import-jobs"])
def revert_conflicts(
    code: str,
    request: Request,
    principal: CanImport,
    session: ReadSession,
    page: str | None = None,
    limit: str | None = None,
) -> dict[str, Any]:
    service.get_job(session, principal.org, code)
    page_no, per_page = page_params(page, limit, "import")
    items, total = conflicts_page(session, code, page_no, per_page)
    return ok(paginate(request, items, total, page_no, per_page))
