"""`POST /import-jobs/{code}/revert` and `GET /import-jobs/{code}/revert-conflicts`."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from loadbay import queue
from loadbay.auth import CanImport, Principal
from loadbay.db import get_database
from loadbay.deps import ReadSession
from loadbay.imports import service
from loadbay.imports.models import ImportJob, ImportRevertConflict
from loadbay.imports.revert import request_revert
from loadbay.imports.schemas import job_view
from loadbay.pagination import ok, page_params, paginated
from loadbay.routing import Router

router = Router()


def _request(principal: Principal, code: str) -> ImportJob:
    with get_database().write() as session:
        request_revert(session, service.get_job(session, principal.org, code), principal.email)
    with get_database().read() as session:
        return service.get_job(session, principal.org, code)


@router.post("/import-jobs/{code}/revert", response_model=None, tags=["import-jobs"])
async def revert_import_job(code: str, principal: CanImport) -> Any:
    job = await run_in_threadpool(_request, principal, code)
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
    query = sa.select(ImportRevertConflict).where(ImportRevertConflict.job_id == code)

    def render(rows: list[ImportRevertConflict]) -> list[dict[str, Any]]:
        return [
            {"_id": c.target_id, "type": c.kind, "action": c.action, "reason": c.reason}
            for c in rows
        ]

    order = [ImportRevertConflict.id]
    return ok(paginated(request, session, query, order, page_no, per_page, render))
