"""Console request plumbing: the signed-in user, permissions, CSRF and page rendering.

Console routes use `PageRoute`: an error any service raises (an `ApiError`)
becomes an HTML page with its status and message instead of the API's JSON. Like the
API's routes, they take the settings, database and storage the app was built with from
`loadbay.deps` (`AppRuntime`, `AppSettings`, `AppDatabase`, or `runtime(request)` in a
page helper) and hand them to the console's services.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from loadbay import deps
from loadbay.console import session as sessions
from loadbay.db import Database
from loadbay.errors import ApiError

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
PAGE_HEADERS = {
    # Nothing from elsewhere, no inline script or style: the pages need neither.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
    "form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class SignInNeeded(Exception):
    pass


class PageError(Exception):
    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


def render(request: Request, name: str, http_status: int = 200, **context: Any) -> HTMLResponse:
    signed: sessions.Signed | None = getattr(request.state, "console", None)
    context.setdefault("signed", signed)
    context.setdefault("org_name", getattr(request.state, "org_name", ""))
    context.setdefault("csrf", signed.csrf if signed else getattr(request.state, "pre", ""))
    response = templates.TemplateResponse(request, name, context, status_code=http_status)
    response.headers.update(PAGE_HEADERS)
    return response


def error_page(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    return render(request, "error.html", status, title=title, message=message)


def redirect(url: str, request: Request | None = None) -> Response:
    if request is not None and request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


TITLES = {400: "Please check what you entered", 403: "Not allowed", 404: "Not found"}


class PageRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInNeeded:
                return redirect(f"/sign-in?next={quote(request.url.path)}", request)
            except PageError as exc:
                return error_page(request, exc.status, exc.title, exc.message)
            except ApiError as exc:
                title = TITLES.get(exc.status_code, "Something went wrong")
                return error_page(request, exc.status_code, title, exc.message)

        return page


def _load(cookie: str | None, db: Database, secret: str) -> tuple[sessions.Signed | None, str]:
    from loadbay.console.services import org_name

    with db.read() as session:
        signed = sessions.load(session, cookie, secret)
        return signed, org_name(session, signed.principal.org) if signed else ""


def signed_in(request: Request) -> sessions.Signed:
    """The session of the app's database whose cookie is signed with its secret."""
    cookie = request.cookies.get(sessions.COOKIE)
    signed, name = _load(cookie, deps.database(request), deps.settings(request).secret)
    if signed is None:
        raise SignInNeeded()
    request.state.org_name = name
    request.state.console = signed
    request.state.principal = signed.principal  # for the request log
    return signed


Signed = Annotated[sessions.Signed, Depends(signed_in)]


def need(signed: sessions.Signed, perm: str) -> None:
    if not signed.principal.can(perm):
        raise PageError(
            403, "Not allowed", f"Your account does not have the {perm} permission for this page."
        )


def check_csrf(signed: sessions.Signed, given: str | None) -> None:
    if not sessions.same(signed.csrf, given):
        raise PageError(
            403,
            "This form has expired",
            "The form was not sent from this session. Go back, reload the page and try again.",
        )


async def form(request: Request, signed: sessions.Signed) -> dict[str, str]:
    """A posted urlencoded form whose CSRF token matches the session's."""
    data = await request.form()
    values = {k: v for k, v in data.multi_items() if isinstance(v, str)}
    check_csrf(signed, values.get("csrf"))
    return values


async def form_lists(request: Request, signed: sessions.Signed) -> dict[str, list[str]]:
    data = await request.form()
    out: dict[str, list[str]] = {}
    for key, value in data.multi_items():
        if isinstance(value, str):
            out.setdefault(key, []).append(value)
    check_csrf(signed, next(iter(out.get("csrf", [])), None))
    return out


def secure_cookie(request: Request) -> bool:
    return deps.settings(request).public_url.startswith("https://")
