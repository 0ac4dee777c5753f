"""Export (choose, pick fields or a saved choice, filter, format; a small export downloads
at once, a larger one runs in the background), the export log, and the organisation
settings page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from loadbay.catalog.models import TASK_STATUSES
from loadbay.console import services
from loadbay.console import services_exports as exports
from loadbay.console.deps import (
    PageRoute,
    Signed,
    form,
    form_lists,
    need,
    redirect,
    render,
)
from loadbay.deps import AppDatabase, AppRuntime, AppStorage, runtime
from loadbay.errors import ApiError

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PER_PAGE = 20


def _export_page(
    request: Request,
    ref: str,
    status: int = 200,
    error: str = "",
    choice: exports.ExportChoice | None = None,
    notice: str = "",
    config_id: str = "",
) -> Response:
    signed = request.state.console
    org = signed.principal.org
    run = runtime(request)
    context: dict[str, Any] = {}
    with run.db.read() as db:
        options = services.choices(db, org)
        tgt = services.target(db, org, ref) if ref else None
        if tgt is not None:
            context.update(
                columns=exports.columns(db, org, tgt),
                hubs=exports.hubs(db, org),
                configs=exports.configs_for(db, org, tgt),
            )
    return render(
        request,
        "exports/new.html",
        status,
        options=options,
        ref=ref,
        target=tgt,
        formats=services.EXPORT_FORMATS,
        statuses={s: exports.STATUS_WORDS.get(s, s) for s in TASK_STATUSES},
        choice=choice or exports.ExportChoice(),
        direct_rows=run.settings.console_direct_export_rows,
        error=error,
        notice=notice,
        config_id=config_id,
        **context,
    )


@router.get("/exports/new")
def export_page(
    request: Request,
    signed: Signed,
    db: AppDatabase,
    target: str = "",
    config: str = "",
    saved: str = "",
) -> Response:
    need(signed, "export")
    if not config or not target:
        return _export_page(request, target)
    with db.read() as session:
        name, fields = exports.config_fields(session, signed.principal.org, config)
    word = "Saved" if saved else "Applied"
    return _export_page(
        request,
        target,
        choice=exports.ExportChoice(fields=fields),
        notice=f"{word} the field choice “{name}”: {len(fields)} fields picked below.",
        config_id=config,
    )


@router.post("/exports/new")
async def export(request: Request, signed: Signed, run: AppRuntime) -> Response:
    need(signed, "export")
    values = await form_lists(request, signed)
    ref = (values.get("target") or [""])[0]
    choice = exports.ExportChoice.of_form(values)
    if not choice.fields:
        return _export_page(request, ref, 400, "Pick at least one field to export.", choice)
    if choice.fmt not in services.EXPORT_FORMATS:
        return _export_page(request, ref, 400, "Choose a file format.", choice)
    try:
        with run.db.read() as db:
            tgt = services.target(db, signed.principal.org, ref)
        entry = await exports.export(signed.principal, tgt, choice, run)
    except ApiError as exc:
        if exc.status_code >= 500:
            raise
        return _export_page(request, ref, exc.status_code, exc.message, choice)
    if entry.status == "Done":
        return redirect(f"/exports/{entry.id}/file")  # the browser downloads it and stays
    return redirect("/exports?started=1")


@router.post("/exports/configs")
async def save_config(request: Request, signed: Signed, db: AppDatabase) -> Response:
    need(signed, "export")
    values = await form_lists(request, signed)
    ref = (values.get("target") or [""])[0]
    choice = exports.ExportChoice.of_form(values)
    name = (values.get("configName") or [""])[0].strip()
    if not name:
        return _export_page(request, ref, 400, "Give the field choice a name to save it.", choice)
    try:
        with db.write() as session:
            tgt = services.target(session, signed.principal.org, ref)
            config_id = exports.save_config(
                session, signed.principal, tgt, name, choice.fields or []
            )
    except ApiError as exc:
        return _export_page(request, ref, exc.status_code, exc.message, choice)
    query = urlencode({"target": ref, "config": config_id, "saved": 1})
    return redirect(f"/exports/new?{query}")


@router.get("/exports/{log_id}/file")
def export_file(log_id: str, signed: Signed, run: AppRuntime) -> Response:
    """A finished export of this user's, streamed from storage (same origin, so a form's
    redirect to it is allowed whatever the storage is)."""
    need(signed, "export")
    with run.db.read() as db:
        key, filename, size = exports.finished_file(db, signed.principal, log_id, run.storage)

    def chunks() -> Iterator[bytes]:
        with run.storage.open(key) as source:
            while block := source.read(1 << 16):
                yield block

    return StreamingResponse(chunks(), headers=exports.file_headers(filename, size))


@router.get("/exports")
def export_log(
    request: Request,
    signed: Signed,
    db: AppDatabase,
    storage: AppStorage,
    page: str = "",
    started: str = "",
) -> Response:
    need(signed, "export")
    number = int(page) if page.isdigit() and 0 < int(page) < 100_000 else 1
    with db.read() as session:
        entries, total = services.export_log(session, signed.principal, number, PER_PAGE, storage)
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


# ---- organisation settings ------------------------------------------------------------------


def _settings_page(
    request: Request,
    status: int = 200,
    error: str = "",
    saved: bool = False,
    sent: dict[str, str] | None = None,
) -> Response:
    signed = request.state.console
    with runtime(request).db.read() as db:
        values = exports.org_values(db, signed.principal.org)
        hooks = services.webhooks(db, signed.principal.org)
    if sent is not None:
        values = exports.shown_values(values, sent)
    return render(
        request,
        "settings.html",
        status,
        values=values,
        hooks=hooks,
        locales=exports.locale_choices(),
        date_orders=exports.date_orders(),
        separators=exports.SEPARATOR_WORDS,
        error=error,
        saved=saved,
    )


@router.get("/settings")
def settings_page(request: Request, signed: Signed, saved: str = "") -> Response:
    """Admins only (the link is hidden from others): reading the settings is harmless,
    but a page of controls that all refuse is not worth showing."""
    need(signed, "admin")
    return _settings_page(request, saved=bool(saved))


@router.post("/settings")
async def save_settings(request: Request, signed: Signed, db: AppDatabase) -> Response:
    need(signed, "admin")
    values = await form(request, signed)
    try:
        with db.write() as session:
            exports.save_org_values(session, signed.principal.org, values)
    except ApiError as exc:
        return _settings_page(request, exc.status_code, exports.in_words(exc.message), sent=values)
    return redirect("/settings?saved=1")
