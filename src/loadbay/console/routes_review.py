"""The wizard's review steps between the upload and the confirm: sheet (when the
workbook has several), header row, map values, and the review grid with its edits.
Each change goes through `services_review`, i.e. the services of the API's
`PATCH /import-jobs/{code}` and `/rows`."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from loadbay.console import services_review as review
from loadbay.console.deps import PageRoute, Signed, form, need, redirect, render
from loadbay.deps import AppRuntime, Runtime, runtime
from loadbay.errors import ApiError

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PER_PAGE = 20
FILTERS = ("all", "valid", "invalid")


async def _moved_on(signed: Any, code: str, run: Runtime) -> Response | None:
    """A job that is no longer a draft shows its own page instead of a wizard step."""
    job = await run_in_threadpool(review.job_of, signed.principal, code, run)
    return None if job.phase == "preview" else redirect(f"/imports/{code}")


async def _step(request: Request, signed: Any, code: str, page: Any) -> Response:
    need(signed, "import")
    moved = await _moved_on(signed, code, runtime(request))
    if moved is not None:
        return moved
    shown: Response = await run_in_threadpool(page, request, code)
    return shown


async def _refused(request: Request, code: str, exc: ApiError, page: Any, *args: Any) -> Response:
    """The step again with the error; a draft confirmed or cancelled meanwhile: its page."""
    if exc.status_code == 409:
        return redirect(f"/imports/{code}", request)
    shown: Response = await run_in_threadpool(page, request, code, 400, exc.message, *args)
    return shown


# ---- sheet --------------------------------------------------------------------------------


def _sheet_page(
    request: Request, code: str, status: int = 200, error: str = "", chosen: str | None = None
) -> Response:
    draft = review.draft(request.state.console.principal, code, runtime(request))
    return render(
        request,
        "imports/sheet.html",
        status,
        step="structure",
        draft=draft,
        chosen=draft.sheet if chosen is None else chosen,
        error=error,
    )


@router.get("/imports/{code}/sheet")
async def sheet_page(request: Request, code: str, signed: Signed) -> Response:
    return await _step(request, signed, code, _sheet_page)


@router.post("/imports/{code}/sheet")
async def sheet_submit(request: Request, code: str, signed: Signed, run: AppRuntime) -> Response:
    need(signed, "import")
    values = await form(request, signed)
    name = values.get("sheet", "")
    if not name:
        return await run_in_threadpool(_sheet_page, request, code, 400, "Choose a sheet.")
    job = await run_in_threadpool(review.job_of, signed.principal, code, run)
    try:  # the same sheet again changes nothing (its header row stays as chosen)
        if name != job.sheet_name:
            await run_in_threadpool(
                review.change_draft, signed.principal, code, {"sheet": name}, run
            )
    except ApiError as exc:
        return await _refused(request, code, exc, _sheet_page, name)
    return redirect(f"/imports/{code}/header")


# ---- header row ---------------------------------------------------------------------------


def _header_page(
    request: Request, code: str, status: int = 200, error: str = "", chosen: int | None = None
) -> Response:
    draft = review.draft(request.state.console.principal, code, runtime(request))
    return render(
        request,
        "imports/header.html",
        status,
        step="structure",
        draft=draft,
        chosen=draft.header_row if chosen is None else chosen,
        width=max((len(r) for r in draft.raw_rows), default=0),
        error=error,
    )


@router.get("/imports/{code}/header")
async def header_page(request: Request, code: str, signed: Signed) -> Response:
    return await _step(request, signed, code, _header_page)


@router.post("/imports/{code}/header")
async def header_submit(request: Request, code: str, signed: Signed, run: AppRuntime) -> Response:
    need(signed, "import")
    values = await form(request, signed)
    raw = values.get("headerRow", "")
    row = int(raw) if raw.isdigit() and 0 < int(raw) < 1_000_000 else None
    if row is None:
        return await run_in_threadpool(
            _header_page, request, code, 400, "Choose the row that holds the column names."
        )
    try:
        await run_in_threadpool(
            review.change_draft, signed.principal, code, {"headerRow": row}, run
        )
    except ApiError as exc:
        return await _refused(request, code, exc, _header_page, row)
    return redirect(f"/imports/{code}/map")


# ---- map values ---------------------------------------------------------------------------


def _values_page(request: Request, code: str, status: int = 200, error: str = "") -> Response:
    principal = request.state.console.principal
    target, found = review.bad_values(principal, code, runtime(request))
    specs = {s.id: s for s in target.specs}
    by_field: dict[str, list[tuple[int, review.BadValue]]] = {}
    for i, bad in enumerate(found):
        by_field.setdefault(bad.field, []).append((i, bad))
    return render(
        request,
        "imports/values.html",
        status,
        step="values",
        code=code,
        target=target,
        specs=specs,
        by_field=by_field,
        error=error,
    )


@router.get("/imports/{code}/values")
async def values_page(request: Request, code: str, signed: Signed) -> Response:
    return await _step(request, signed, code, _values_page)


@router.post("/imports/{code}/values")
async def values_submit(request: Request, code: str, signed: Signed, run: AppRuntime) -> Response:
    need(signed, "import")
    values = await form(request, signed)
    current = await run_in_threadpool(review.value_map, signed.principal, code, run)
    wanted = {f: dict(pairs) for f, pairs in current.items()}
    for key, fid in values.items():
        if not key.startswith("f-") or not key[2:].isdigit():
            continue
        i, source = key[2:], values.get(f"v-{key[2:]}", "")
        to = values.get(f"to-{i}", "")
        if to:
            wanted.setdefault(fid, {})[source] = to
        else:
            wanted.get(fid, {}).pop(source, None)
    wanted = {f: pairs for f, pairs in wanted.items() if pairs}
    if wanted != current:
        try:
            await run_in_threadpool(
                review.change_draft, signed.principal, code, {"valueMap": wanted}, run
            )
        except ApiError as exc:
            return await _refused(request, code, exc, _values_page)
    return redirect(f"/imports/{code}/review")


# ---- review -------------------------------------------------------------------------------


def _query(kind: str, column: str, reason: str, page: int = 1) -> str:
    """The review page's query string ("" for the first page of all rows), with its "?"."""
    pairs = {"filter": kind, "column": column, "reason": reason, "page": page}
    query = urlencode({k: v for k, v in pairs.items() if v and v != 1 and v != "all"})
    return f"?{query}" if query else ""


Columns = list[tuple[int, str, str]]  # (file index, header, field title), in grid order


def problems_first(columns: Columns, rows: list[dict[str, Any]]) -> Columns:
    """The grid's columns with those holding an error on this page first (in file order),
    so every bad cell of the page is in sight without scrolling sideways."""
    bad = {
        issue["column"]
        for r in rows
        if not r["discarded"]
        for issue in r["issues"]
        if issue["severity"] == "error"
    }
    return [c for c in columns if c[1] in bad] + [c for c in columns if c[1] not in bad]


def _in_order(columns: Columns, order: str) -> Columns:
    """`columns` in the order a page showed them (the file indexes, comma-separated, as
    its row forms send them), so a row answered alone fits its table; else file order."""
    by_index = {c[0]: c for c in columns}
    picked = [int(i) for i in order.split(",") if i.isdigit()]
    if sorted(picked) != sorted(by_index):
        return columns
    return [by_index[i] for i in picked]


def _review_context(
    request: Request, code: str, kind: str, column: str, reason: str, page: int
) -> dict[str, Any]:
    principal = request.state.console.principal
    run = runtime(request)
    check = review.check(principal, code, run)
    summary = check.summary or {}
    rows: list[dict[str, Any]] = []
    total = 0
    if summary.get("status") == "Done":
        rows, total = review.rows(
            principal, code, kind, column or None, reason or None, page, PER_PAGE, run
        )
    columns = problems_first(check.columns, rows)
    return {
        "step": "review",
        "check": check,
        "columns": columns,
        "reordered": columns != check.columns,
        "v": summary,
        "rows": rows,
        "total": total,
        "kind": kind,
        "column": column,
        "reason": reason,
        "page": page,
        "pages": max(1, -(-total // PER_PAGE)),
        "here": _query(kind, column, reason, page),
        "query": _query,
    }


@router.get("/imports/{code}/review")
async def review_page(
    request: Request,
    code: str,
    signed: Signed,
    run: AppRuntime,
    filter: str = "all",
    column: str = "",
    reason: str = "",
    page: str = "",
) -> Response:
    need(signed, "import")
    moved = await _moved_on(signed, code, run)
    if moved:
        return moved
    kind = filter if filter in FILTERS else "all"
    number = int(page) if page.isdigit() and 0 < int(page) < 100_000 else 1
    context = await run_in_threadpool(
        _review_context, request, code, kind, column[:500], reason[:100], number
    )
    if request.headers.get("hx-request") and context["v"].get("status") == "Done":
        # the check the page was waiting for has finished: show its findings
        return Response(status_code=204, headers={"HX-Refresh": "true"})
    name = "imports/_check.html" if request.headers.get("hx-request") else "imports/review.html"
    return render(request, name, **context)


@router.post("/imports/{code}/review/rows/{row}")
async def review_row_submit(
    request: Request, code: str, row: int, signed: Signed, run: AppRuntime
) -> Response:
    """Save a row's edited cells, or discard or keep it; the row is checked again."""
    need(signed, "import")
    values = await form(request, signed)
    # where the row was shown (tab, filter, page), rebuilt from its parts, never echoed
    state = dict(parse_qsl(values.get("back", "").lstrip("?")))
    kind = state.get("filter", "all") if state.get("filter") in FILTERS else "all"
    column, reason = state.get("column", "")[:500], state.get("reason", "")[:100]
    number = state.get("page", "1")
    back = _query(kind, column, reason, int(number) if number.isdigit() else 1)
    action = values.get("action", "save")
    check = await run_in_threadpool(review.check, signed.principal, code, run)
    headers = list(check.job.headers or [])
    item: dict[str, Any] = {"row": row}
    if action in ("discard", "keep"):
        item["discard"] = action == "discard"
    else:
        item["cells"] = {
            headers[int(k[2:])]: v
            for k, v in values.items()
            if k.startswith("c-") and k[2:].isdigit() and int(k[2:]) < len(headers)
        }
        if not item["cells"]:
            item = {"row": row, "discard": False}
    try:
        changed = await run_in_threadpool(
            review.edit_rows, signed.principal, code, {"rows": [item]}, run
        )
    except ApiError as exc:
        if exc.status_code == 409:
            return redirect(f"/imports/{code}", request)
        raise
    if not request.headers.get("hx-request"):
        return redirect(f"/imports/{code}/review{back}#row-{row}")
    check = await run_in_threadpool(review.check, signed.principal, code, run)
    fixed = not any(i["severity"] == "error" for i in changed[0]["issues"])
    return render(
        request,
        "imports/_review_row.html",
        check=check,
        columns=_in_order(check.columns, values.get("order", "")),
        r=changed[0],
        here=back,
        v=check.summary or {},
        kind=kind,
        column=column,
        reason=reason,
        query=_query,
        oob=True,
        said=_said(changed[0], action, fixed),
    )


def _said(row: dict[str, Any], action: str, fixed: bool) -> str:
    n = row["row"]
    if action == "discard":
        return f"Row {n} discarded: it will not be imported."
    if action == "keep":
        return f"Row {n} kept."
    if fixed:
        return f"Row {n} checked again: it is valid now."
    count = sum(1 for i in row["issues"] if i["severity"] == "error")
    return f"Row {n} checked again: {count} problem{'s' if count != 1 else ''} left."
