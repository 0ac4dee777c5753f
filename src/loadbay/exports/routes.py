"""HTTP routes: the two exports, the export log, and (from `configs`) export configs."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import orjson
import sqlalchemy as sa
from fastapi import Query, Request

from loadbay import idempotency
from loadbay.auth import Principal, require
from loadbay.deps import AppDatabase, AppSettings, ReadSession
from loadbay.errors import BadRequest, Forbidden
from loadbay.exports import configs, service
from loadbay.exports.models import ExportLog
from loadbay.exports.schemas import LOG_SORTS, ExportLogQuery, log_entry, parse_request
from loadbay.ids import fmt_iso, utcnow
from loadbay.pagination import page_rows
from loadbay.routing import Router
from loadbay.tabular.nesting import deeper_than, too_deep

router = Router()
router.include_router(configs.router)


def _may(what: str) -> Any:
    """`export`, with the vendor's 403 message for this endpoint."""
    return require("export", message=f"You do not have permission to {what}")


TaskExporter = Annotated[Principal, _may("export tasks")]
DataExporter = Annotated[Principal, _may("export data")]
LogReader = Annotated[Principal, _may("view export logs")]


async def _json_object(request: Request, limit: int) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "depth limit" in str(exc):  # orjson stops at 1024 levels
            raise BadRequest("export-015", too_deep(limit, "The body")) from None
        raise BadRequest("export-003", "Malformed body: not JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("export-003", "The body must be a JSON object")
    if deeper_than(body, limit):
        raise BadRequest("export-015", too_deep(limit, "The body"))
    return body


@router.post("/tasks/export")
async def export_tasks(
    request: Request, principal: TaskExporter, db: AppDatabase, settings: AppSettings
) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        req = parse_request("task", await _json_object(request, settings.max_json_depth))
        # Checks on the thread pool; a direct export's writing in a worker process.
        return await service.export(principal, req, db, settings)

    return await idempotency.idempotent(request, principal.org, "tasks/export", 200, run)  # type: ignore[no-any-return]


@router.post("/data/export")
async def export_data(
    request: Request, principal: DataExporter, db: AppDatabase, settings: AppSettings
) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        req = parse_request("data", request.query_params)
        return await service.export(principal, req, db, settings)

    return await idempotency.idempotent(request, principal.org, "data/export", 200, run)  # type: ignore[no-any-return]


# ---- export log ------------------------------------------------------------------------------


@router.get("/tasks/export-log", response_model=None)
def export_log(
    principal: LogReader,
    session: ReadSession,
    settings: AppSettings,
    params: Annotated[ExportLogQuery, Query()],
) -> dict[str, Any]:
    size, number, sort_by, order = params.limit, params.page, params.sortBy, params.sortOrder
    kind, state, dataName, email = params.dataType, params.status, params.dataName, params.email
    who = (email or "").strip() or principal.email
    if who.lower() != principal.email.lower() and not principal.can("admin"):
        raise Forbidden(
            "You do not have permission to view export logs",
            extra={"detail": f"only an admin sees the exports of {who}; leave out email for yours"},
        )
    now = utcnow()
    since = now - timedelta(days=settings.retention_days)
    where = [
        ExportLog.organization_id == principal.org,
        sa.func.lower(ExportLog.email) == who.lower(),
        ExportLog.request_at >= since,
        ExportLog.request_at <= now,
    ]
    must: list[dict[str, Any]] = [
        {"term": {"organizationId.keyword": principal.org}},
        {"term": {"email.keyword": who}},
    ]
    if state:
        where.append(ExportLog.status == state)
        must.append({"term": {"status.keyword": state}})
    if kind:
        where.append(ExportLog.report_type == kind)
        must.append({"term": {"dataType.keyword": kind}})
    if dataName:
        where.append(sa.func.lower(ExportLog.data_name).contains(dataName.lower(), autoescape=True))
        must.append({"match": {"dataName": dataName}})
    must.append({"range": {"requestAt": {"lte": fmt_iso(now), "gte": fmt_iso(since)}}})
    column = LOG_SORTS[sort_by]
    ordering = [column.desc(), ExportLog.id.desc()] if order == "desc" else [column, ExportLog.id]
    query = sa.select(ExportLog).where(*where)
    entries, total = page_rows(session, query, ordering, number, size)
    return {
        "status": True,
        "message": "Success",
        "total": total,
        "data": [log_entry(e) for e in entries],
        "params": {
            "from": (number - 1) * size,
            "size": size,
            "query": {"bool": {"must": must}},
            "sort": [{sort_by: {"order": order}}],
        },
    }
