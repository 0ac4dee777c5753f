"""The import wizard (choose → upload → [sheet → header row: routes_review] → map
columns → [map values → review: routes_review] → confirm → progress → result) and the
import history. Each step is its own page, its state in the draft job."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from loadbay.console import services
from loadbay.console import services_review as review
from loadbay.console.deps import (
    PageError,
    PageRoute,
    Signed,
    check_csrf,
    form,
    need,
    redirect,
    render,
)
from loadbay.deps import AppDatabase, AppRuntime, runtime
from loadbay.errors import ApiError
from loadbay.imports.schemas import MONITORING_STATUSES
from loadbay.imports.upload import receive

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PER_PAGE = 20
IGNORE = ""  # the select's value for "Ignore this column"


def _page_number(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() and 0 < int(raw) < 100_000 else 1


# ---- 1. choose ----------------------------------------------------------------------------


@router.get("/imports/new")
def choose(request: Request, signed: Signed, run: AppRuntime) -> Response:
    need(signed, "import")
    org = signed.principal.org
    with run.db.read() as db:
        options = services.choices(db, org)
        links = {
            c.ref: services.template_link(org, services.target(db, org, c.ref), run.storage)
            for c in options
        }
    return render(request, "imports/choose.html", step="choose", options=options, links=links)


# ---- 2. upload ----------------------------------------------------------------------------


def _upload_page(request: Request, ref: str, status: int = 200, error: str = "") -> Response:
    signed = request.state.console
    run = runtime(request)
    with run.db.read() as db:
        tgt = services.target(db, signed.principal.org, ref)
        choice = next(c for c in services.choices(db, signed.principal.org) if c.ref == ref)
        hubs = services.hubs(db, signed.principal.org) if tgt.kind == "datasource" else []
    return render(
        request,
        "imports/upload.html",
        status,
        step="upload",
        ref=ref,
        target=tgt,
        choice=choice,
        hubs=hubs,
        limits=services.limits(run.settings),
        template=services.template_link(signed.principal.org, tgt, run.storage),
        error=error,
    )


@router.get("/imports/new/upload")
def upload_page(request: Request, signed: Signed, target: str = "") -> Response:
    need(signed, "import")
    if not target:
        return redirect("/imports/new")
    return _upload_page(request, target)


@router.post("/imports/new/upload")
async def upload(request: Request, signed: Signed, run: AppRuntime) -> Response:
    need(signed, "import")
    settings = run.settings
    try:
        received = await receive(request, settings.max_upload_bytes, settings.data_dir / "tmp")
    except ApiError as exc:
        raise PageError(exc.status_code, "The file was not received", exc.message) from None
    try:
        check_csrf(signed, received.fields.get("csrf"))
        ref = received.fields.get("target", "")
        kind, _, target_id = ref.partition(":")
        if received.path is None or not received.filename:
            return _upload_page(request, ref, 400, "Choose a file to upload.")
        received.fields["dataTypeId" if kind == "datasource" else "flowId"] = target_id
        try:
            code, sheets = await run_in_threadpool(
                services.accept_upload, signed.principal, received, run
            )
        except ApiError as exc:
            return _upload_page(request, ref, 400, exc.message)
    finally:
        received.discard()
    return redirect(f"/imports/{code}/{'sheet' if sheets > 1 else 'header'}")


# ---- 3. map columns -----------------------------------------------------------------------


def _map_page(
    request: Request,
    code: str,
    status: int = 200,
    error: str = "",
    chosen: dict[int, str] | None = None,
    bad: set[int] | None = None,
) -> Response:
    signed = request.state.console
    draft = review.draft(signed.principal, code, runtime(request))
    picks = (
        chosen if chosen is not None else {c.index: c.suggested or IGNORE for c in draft.columns}
    )
    mapped = set(picks.values())
    missing = [s for s in draft.target.specs if s.required and s.id not in mapped]
    return render(
        request,
        "imports/map.html",
        status,
        step="map",
        draft=draft,
        picks=picks,
        missing=missing,
        error=error,
        bad=bad or set(),
    )


@router.get("/imports/{code}/map")
async def map_page(request: Request, code: str, signed: Signed, run: AppRuntime) -> Response:
    need(signed, "import")
    job = await run_in_threadpool(review.job_of, signed.principal, code, run)
    if job.phase != "preview":
        return redirect(f"/imports/{code}")
    return await run_in_threadpool(_map_page, request, code)


@router.post("/imports/{code}/map")
async def map_submit(request: Request, code: str, signed: Signed, run: AppRuntime) -> Response:
    need(signed, "import")
    values = await form(request, signed)
    draft = await run_in_threadpool(review.draft, signed.principal, code, run)
    chosen = {c.index: values.get(f"col-{c.index}", IGNORE) for c in draft.columns}
    titles = {s.id: s.title for s in draft.target.specs} | {"_id": "Record id (_id)"}
    by_field: dict[str, list[int]] = {}
    for index, fid in chosen.items():
        if fid != IGNORE:
            by_field.setdefault(fid, []).append(index)
    unknown = [i for i, fid in chosen.items() if fid != IGNORE and fid not in titles]
    twice = {fid: cols for fid, cols in by_field.items() if len(cols) > 1}
    headers = [c.header for c in draft.columns]
    problems = []
    for fid, cols in twice.items():
        names = " and ".join(f"“{headers[i]}”" for i in cols)
        problems.append(f"{titles.get(fid, fid)} is chosen for more than one column ({names}).")
    if unknown:
        problems.append("A chosen field no longer exists; choose again.")
    missing = [s.title for s in draft.target.specs if s.required and s.id not in by_field]
    if missing:
        problems.append("Map every required field: " + ", ".join(missing) + ".")
    if problems:
        bad = {i for cols in twice.values() for i in cols} | set(unknown)
        return await run_in_threadpool(
            _map_page, request, code, 400, " ".join(problems), chosen, bad
        )
    items: list[dict[str, Any]] = [
        {"id": fid, "headerColumn": headers[cols[0]]} for fid, cols in by_field.items()
    ]
    # A column left on "Ignore" is ignored on purpose: the confirm refuses a silent one.
    items += [
        {"headerColumn": headers[i], "ignore": True}
        for i, f in chosen.items()
        if f == IGNORE and headers[i]
    ]
    try:
        await run_in_threadpool(
            review.change_draft, signed.principal, code, {"mapping": items}, run
        )
    except ApiError as exc:
        if exc.status_code == 409:
            return redirect(f"/imports/{code}")
        return await run_in_threadpool(_map_page, request, code, 400, exc.message, chosen)
    return redirect(f"/imports/{code}/values")


# ---- 4. confirm ---------------------------------------------------------------------------


def _confirm_page(
    request: Request,
    code: str,
    status: int = 200,
    error: str = "",
    sent: dict[str, str] | None = None,
) -> Response:
    check = review.check(request.state.console.principal, code, runtime(request))
    titles = {header: title for _i, header, title in check.columns}
    job = check.job
    sent = sent or {}
    return render(
        request,
        "imports/confirm.html",
        status,
        step="confirm",
        check=check,
        job=job,
        target=check.target,
        v=check.summary or {},
        mapped=[(h, titles.get(h, "")) for h in job.headers or [] if h],
        value_map=(job.options or {}).get("valueMap") or {},
        mode=sent.get("importMode") or job.import_mode,
        match=sent.get("matchField", job.match_field or ""),
        rule=sent.get("invalidRows", "skip"),
        max_invalid=sent.get("maxInvalid", ""),
        error=error,
    )


@router.get("/imports/{code}/confirm")
async def confirm_page(request: Request, code: str, signed: Signed, run: AppRuntime) -> Response:
    need(signed, "import")
    job = await run_in_threadpool(review.job_of, signed.principal, code, run)
    if job.phase != "preview":
        return redirect(f"/imports/{code}")
    return await run_in_threadpool(_confirm_page, request, code)


@router.post("/imports/{code}/confirm")
async def confirm(request: Request, code: str, signed: Signed, run: AppRuntime) -> Response:
    need(signed, "import")
    values = await form(request, signed)
    body = {
        "importMode": values.get("importMode") or "CreateAndUpdate",
        "matchField": values.get("matchField") or None,
        "invalidRows": values.get("invalidRows") or "skip",
        "maxInvalid": values.get("maxInvalid", "").strip() or None,
    }
    try:
        await run_in_threadpool(services.confirm, signed.principal, code, body, run)
    except ApiError as exc:
        if exc.status_code == 409:
            return redirect(f"/imports/{code}")
        return await run_in_threadpool(_confirm_page, request, code, 400, exc.message, values)
    return redirect(f"/imports/{code}")


# ---- 5. progress and result ---------------------------------------------------------------


@router.get("/imports/{code}")
async def job_page(request: Request, code: str, signed: Signed, run: AppRuntime) -> Response:
    need(signed, "import")
    view = await run_in_threadpool(services.job, signed.principal, code, run)
    if view.job.phase == "preview":
        return redirect(f"/imports/{code}/review")
    return render(request, "imports/job.html", step="progress", v=view)


@router.get("/imports/{code}/progress")
async def progress(request: Request, code: str, signed: Signed, run: AppRuntime) -> Response:
    need(signed, "import")
    view = await run_in_threadpool(services.job, signed.principal, code, run)
    return render(request, "imports/_progress.html", v=view, oob=True)


@router.post("/imports/{code}/cancel")
async def cancel(request: Request, code: str, signed: Signed, run: AppRuntime) -> Response:
    need(signed, "import")
    await form(request, signed)
    try:
        await run_in_threadpool(services.cancel, signed.principal, code, run)
    except ApiError as exc:
        if exc.status_code != 409:  # already finished: the page shows how it ended
            raise
    return redirect(f"/imports/{code}")


# ---- revert -------------------------------------------------------------------------------


@router.get("/imports/{code}/revert")
async def revert_page(request: Request, code: str, signed: Signed, run: AppRuntime) -> Response:
    need(signed, "import")
    view = await run_in_threadpool(services.job, signed.principal, code, run)
    if not view.done or view.job.revert_status in ("Queued", "InProgress", "Done"):
        return redirect(f"/imports/{code}")
    return render(request, "imports/revert.html", v=view)


@router.post("/imports/{code}/revert")
async def revert(request: Request, code: str, signed: Signed, run: AppRuntime) -> Response:
    need(signed, "import")
    await form(request, signed)
    try:
        await run_in_threadpool(review.revert, signed.principal, code, run)
    except ApiError as exc:
        if exc.status_code != 409:  # not finished, or already reverted: its page says so
            raise
    return redirect(f"/imports/{code}#revert")


@router.get("/imports/{code}/revert-status")
async def revert_status(request: Request, code: str, signed: Signed, run: AppRuntime) -> Response:
    need(signed, "import")
    view = await run_in_threadpool(services.job, signed.principal, code, run)
    return render(request, "imports/_revert.html", v=view)


@router.get("/imports/{code}/revert-conflicts")
async def revert_conflicts(
    request: Request, code: str, signed: Signed, run: AppRuntime, page: str = ""
) -> Response:
    need(signed, "import")
    number = _page_number(page)
    job, items, total = await run_in_threadpool(
        review.revert_conflicts, signed.principal, code, number, PER_PAGE, run
    )
    return render(
        request,
        "imports/conflicts.html",
        job=job,
        items=items,
        total=total,
        page=number,
        pages=max(1, -(-total // PER_PAGE)),
    )


# ---- history ------------------------------------------------------------------------------


@router.get("/imports")
def history(
    request: Request,
    signed: Signed,
    db: AppDatabase,
    status: str = "",
    type: str = "",
    page: str = "",
) -> Response:
    need(signed, "import")
    number = _page_number(page)
    with db.read() as session:
        rows, total = services.history(
            session, signed.principal.org, status or None, type or None, number, PER_PAGE
        )
    pages = max(1, -(-total // PER_PAGE))
    return render(
        request,
        "imports/history.html",
        rows=rows,
        total=total,
        page=number,
        pages=pages,
        status=status if status in MONITORING_STATUSES else "",
        type=type if type in ("datasource", "task") else "",
        statuses=MONITORING_STATUSES,
    )


@router.get("/imports/{code}/row")
async def history_row(request: Request, code: str, signed: Signed, run: AppRuntime) -> Response:
    need(signed, "import")
    view = await run_in_threadpool(services.job, signed.principal, code, run)
    return render(request, "imports/_row.html", r=view)
