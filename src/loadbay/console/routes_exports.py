"""Export (choose, pick fields and format, run in the background), the export log,
and the organisation settings page."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from loadbay.console import services
from loadbay.console.deps import PageRoute, Signed, form_lists, need, redirect, render
from loadbay.db import get_database
from loadbay.errors import ApiError

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PER_PAGE = 20


def _export_page(
    request: Request, ref: str, status: int = 200, error: str = "", picked: list[str] | None = None
) -> Response:
    signed = request.state.console
    with get_database().read() as db:
        options = services.choices(db, signed.principal.org)
        tgt = services.target(db, signed.principal.org, ref) if ref else None
    return render(
        request,
        "exports/new.html",
        status,
        options=options,
        ref=ref,
        target=tgt,
        formats=services.EXPORT_FORMATS,
        picked=picked,
        error=error,
    )


@router.get("/exports/new")
def export_page(request: Request, signed: Signed, target: str = "") -> Response:
    need(signed, "export")
    return _export_page(request, target)


@router.post("/exports/new")
async def export(request: Request, signed: Signed) -> Response:
    need(signed, "export")
    values = await form_lists(request, signed)
    ref = (values.get("target") or [""])[0]
    fields = values.get("fields") or []
    fmt = (values.get("format") or ["xlsx"])[0]
    if not fields:
        return _export_page(request, ref, 400, "Pick at least one field to export.", [])
    if fmt not in services.EXPORT_FORMATS:
        return _export_page(request, ref, 400, "Choose a file format.", fields)

    def run() -> None:
        with get_database().read() as db:
            tgt = services.target(db, signed.principal.org, ref)
        services.start_export(signed.principal, tgt, fields, fmt)

    try:
        await run_in_threadpool(run)
    except ApiError as exc:
        return _export_page(request, ref, 400, exc.message, fields)
    return redirect("/exports?started=1")


@router.get("/exports")
def export_log(request: Request, signed: Signed, page: str = "", started: str = "") -> Response:
    need(signed, "export")
    number = int(page) if page.isdigit() and 0 < int(page) < 100_000 else 1
    with get_database().read() as db:
        entries, total = services.export_log(db, signed.principal, number, PER_PAGE)
    name = "exports/_log.html" if request.headers.get("hx-request") else "exports/log.html"
    return render(
        request,
        name,
        entries=entries,
        total=total,
        page=number,
        pages=max(1, -(-total // PER_PAGE)),
        started=bool(started),
        running=any(e.status == "Processing" for e, _link in entries),
    )


@router.get("/settings")
def settings_page(request: Request, signed: Signed) -> Response:
    need(signed, "admin")
    with get_database().read() as db:
        hooks = services.webhooks(db, signed.principal.org)
    return render(request, "settings.html", hooks=hooks)
