"""HTTP routes: the two exports, the export log, and (from `configs`) export configs."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import orjson
import sqlalchemy as sa
from fastapi import Request

from loadbay import idempotency
from loadbay.auth import Principal, require
from loadbay.deps import ReadSession
from loadbay.errors import BadRequest, Forbidden, envelope
from loadbay.exports import configs, service
from loadbay.exports.models import ExportLog
from loadbay.exports.schemas import LOG_DATA_TYPES, LOG_STATUSES, log_entry, parse_request
from loadbay.ids import fmt_iso, utcnow
from loadbay.pagination import SORT_ORDERS
from loadbay.responses import JsonResponse
from loadbay.routing import Router
from loadbay.settings import get_settings
from loadbay.tabular.nesting import deeper_than, too_deep

router = Router()
router.include_router(configs.router)

LOG_SORTS: dict[str, Any] = {
    "requestAt": ExportLog.request_at,
    "completedAt": ExportLog.completed_at,
    "status": ExportLog.status,
    "dataType": ExportLog.report_type,
    "dataName": ExportLog.data_name,
    "email": ExportLog.email,
    "fileType": ExportLog.file_type,
    "totalRecords": ExportLog.total,
}


def _may(what: str) -> Any:
    """`export`, with the vendor's 403 message for this endpoint."""
    return require("export", message=f"You do not have permission to {what}")


TaskExporter = Annotated[Principal, _may("export tasks")]
DataExporter = Annotated[Principal, _may("export data")]
LogReader = Annotated[Principal, _may("view export logs")]


async def _json_object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    limit = get_settings().max_json_depth
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
async def export_tasks(request: Request, principal: TaskExporter) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        req = parse_request("task", await _json_object(request))
        # Checks on the thread pool; a direct export's writing in a worker process.
        return await service.export(principal, req)

    return await idempotency.idempotent(request, principal.org, "tasks/export", 200, run)  # type: ignore[no-any-return]


@router.post("/data/export")
async def export_data(request: Request, principal: DataExporter) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        req = parse_request("data", request.query_params)
        return await service.export(principal, req)

    return await idempotency.idempotent(request, principal.org, "data/export", 200, run)  # type: ignore[no-any-return]


# ---- export log ------------------------------------------------------------------------------


def _log_error(exc: BadRequest) -> JsonResponse:
    # The vendor's 400 for this endpoint carries an empty `data` list.
    return JsonResponse({**envelope(exc.message, exc.failed_code), "data": []}, status_code=400)


def _positive(raw: str | None, default: int, name: str, most: int | None = None) -> int:
    if raw in (None, ""):
        return default
    try:
        value = int(str(raw))
    except ValueError:
        value = 0
    if value < 1 or (most is not None and value > most):
        bounds = f"between 1 and {most}" if most else "at least 1"
        raise BadRequest("export-003", f"Invalid {name} parameter. Must be {bounds}.")
    return value


def _enum(raw: str | None, allowed: tuple[str, ...], name: str) -> str | None:
    if raw in (None, ""):
        return None
    if raw not in allowed:
        raise BadRequest(
            "export-017", f"Invalid {name} parameter: {raw} (use {', '.join(allowed)})."
        )
    return raw


@router.get("/tasks/export-log", response_model=None)
def export_log(
    principal: LogReader,
    session: ReadSession,
    page: str | None = None,
    limit: str | None = None,
    sortBy: str | None = None,
    sortOrder: str | None = None,
    dataName: str | None = None,
    dataType: str | None = None,
    status: str | None = None,
    email: str | None = None,
) -> dict[str, Any] | JsonResponse:
    try:
        size = _positive(limit, 10, "limit", 100)
        number = _positive(page, 1, "page", 1_000_000)
        sort_by = sortBy or "requestAt"
        if sort_by not in LOG_SORTS:
            raise BadRequest("export-003", f"Invalid sortBy parameter: {sort_by}.")
        order = _enum((sortOrder or "desc").lower(), SORT_ORDERS, "sortOrder") or "desc"
        kind = _enum(dataType, LOG_DATA_TYPES, "dataType")
        state = _enum(status, LOG_STATUSES, "status")
    except BadRequest as exc:
        return _log_error(exc)
    who = (email or "").strip() or principal.email
    if who.lower() != principal.email.lower() and "admin" not in principal.perms:
        raise Forbidden(
            "You do not have permission to view export logs",
            extra={"detail": f"only an admin sees the exports of {who}; leave out email for yours"},
        )
    now = utcnow()
    since = now - timedelta(days=get_settings().retention_days)
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
    total = session.scalar(sa.select(sa.func.count()).select_from(ExportLog).where(*where)) or 0
    entries = session.scalars(
        sa.select(ExportLog)
        .where(*where)
        .order_by(*ordering)
        .offset((number - 1) * size)
        .limit(size)
    ).all()
    return {
        "status": True,
        "message": "Success",
        "total": int(total),
        "data": [log_entry(e) for e in entries],
        "params": {
            "from": (number - 1) * size,
            "size": size,
            "query": {"bool": {"must": must}},
            "sort": [{sort_by: {"order": order}}],
        },
    }
