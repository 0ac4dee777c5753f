"""The Laravel paginator envelope the vendor's lists use."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlencode

import sqlalchemy as sa
from sqlalchemy.orm import Session
from starlette.requests import Request

from loadbay.errors import BadRequest


def page_params(
    page: str | None, limit: str | None, module: str, max_limit: int = 100, default_limit: int = 20
) -> tuple[int, int]:
    try:
        p = int(page) if page not in (None, "") else 1
        n = int(limit) if limit not in (None, "") else default_limit
    except ValueError:
        raise BadRequest(f"{module}-003", "page and limit must be integers") from None
    if not 1 <= p <= 1_000_000:
        raise BadRequest(f"{module}-003", "page must be between 1 and 1000000")
    if n < 1 or n > max_limit:
        raise BadRequest(f"{module}-003", f"limit must be between 1 and {max_limit}")
    return p, n


T = TypeVar("T")
SORT_ORDERS = ("asc", "desc")


def paginated(
    request: Request,
    session: Session,
    query: sa.Select[T],
    order: Sequence[Any],
    page: int,
    per_page: int,
    render: Callable[[list[T]], list[Any]],
) -> dict[str, Any]:
    """Every list the vendor answers with a Laravel paginator: the count of `query`'s
    matches, one page of them in `order` (which must end in a unique column, so pages
    never overlap), each page's rows rendered together (`render` can look up names for
    all of them in one query), in the envelope."""
    rows, total = page_rows(session, query, order, page, per_page)
    return paginate(request, render(rows), total, page, per_page)


def page_rows(
    session: Session, query: sa.Select[T], order: Sequence[Any], page: int, per_page: int
) -> tuple[list[T], int]:
    """One page of `query`'s matches in `order` and the count of all of them: the query
    behind every list, whichever envelope it answers in."""
    total = session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery()))
    rows = session.scalars(query.order_by(*order).offset((page - 1) * per_page).limit(per_page))
    return list(rows), int(total or 0)


def paginate(
    request: Request, items: list[Any], total: int, page: int, per_page: int
) -> dict[str, Any]:
    base = str(request.url.replace(query="")).rstrip("?")
    query = {k: v for k, v in request.query_params.items() if k != "page"}

    def url(n: int) -> str:
        return f"{base}?{urlencode({**query, 'page': n})}"

    last = max(1, math.ceil(total / per_page)) if total else 1
    start = (page - 1) * per_page
    links: list[dict[str, Any]] = [
        {"url": url(page - 1) if page > 1 else None, "label": "&laquo; Previous", "active": False}
    ]
    links += [
        {"url": None, "label": "...", "active": False}
        if n is None
        else {"url": url(n), "label": str(n), "active": n == page}
        for n in page_window(page, last)
    ]
    links.append(
        {"url": url(page + 1) if page < last else None, "label": "Next &raquo;", "active": False}
    )
    return {
        "current_page": page,
        "data": items,
        "first_page_url": url(1),
        "from": start + 1 if items else None,
        "last_page": last,
        "last_page_url": url(last),
        "links": links,
        "next_page_url": url(page + 1) if page < last else None,
        "path": base,
        "per_page": per_page,
        "prev_page_url": url(page - 1) if page > 1 else None,
        "to": start + len(items) if items else None,
        "total": total,
    }


def page_window(page: int, last: int, each_side: int = 3) -> list[int | None]:
    """The page numbers Laravel's paginator links (its `UrlWindow`): every page when there
    are few, else the first two, a window round the current page and the last two, with
    None where Laravel puts its "..." entry."""
    if last < each_side * 2 + 8:
        return list(range(1, last + 1))
    window = each_side + 4
    start: list[int | None] = [1, 2]
    finish: list[int | None] = [last - 1, last]
    if page <= window:
        return [*range(1, window + each_side + 1), None, *finish]
    if page > last - window:
        return [*start, None, *range(last - (window + each_side - 1), last + 1)]
    return [*start, None, *range(page - each_side, page + each_side + 1), None, *finish]


def ok(data: Any = None, message: str = "Success", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"status": True, "message": message}
    if data is not None:
        body["data"] = data
    body.update(extra)
    return body
