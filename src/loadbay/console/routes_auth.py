"""Sign-in (one-time link or a pasted API token), sign-out and the home page."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request, Response

from loadbay.auth import Principal
from loadbay.console import services
from loadbay.console import session as sessions
from loadbay.console.deps import PageRoute, Signed, form, redirect, render, secure_cookie
from loadbay.deps import AppDatabase, AppSettings, Runtime, runtime

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _safe_next(target: str | None) -> str:
    # Only a path on this site: never an open redirect.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


def _pre_token(request: Request) -> str:
    token = request.cookies.get(sessions.PRE_COOKIE) or secrets.token_urlsafe(24)
    request.state.pre = token
    return token


def _sign_in_page(request: Request, status: int = 200, error: str = "", info: str = "") -> Response:
    token = _pre_token(request)
    response = render(
        request,
        "signin.html",
        status,
        error=error,
        info=info,
        next=_safe_next(request.query_params.get("next")),
    )
    response.set_cookie(
        sessions.PRE_COOKIE, token, httponly=True, samesite="lax", secure=secure_cookie(request)
    )
    return response


def _open_session(
    request: Request, principal: Principal, to: str, use_link: str | None = None
) -> Response:
    """A session in the app's database, its cookie signed with the app's secret."""
    run: Runtime = runtime(request)
    secret = run.settings.secret
    with run.db.write() as db:
        if use_link is not None:
            principal = sessions.use_link(db, use_link, secret)
        row = sessions.start(db, principal)
        cookie = sessions.cookie_value(row.id, secret)
    response = redirect(to)
    response.set_cookie(
        sessions.COOKIE,
        cookie,
        max_age=sessions.SESSION_HOURS * 3600,
        httponly=True,
        samesite="lax",
        secure=secure_cookie(request),
        path="/",
    )
    response.delete_cookie(sessions.PRE_COOKIE)
    return response


@router.get("/sign-in")
def sign_in_page(request: Request) -> Response:
    info = "You have signed out." if request.query_params.get("out") else ""
    return _sign_in_page(request, info=info)


@router.post("/sign-in")
async def sign_in(request: Request, settings: AppSettings) -> Response:
    data = await request.form()
    given = data.get("csrf")
    expected = request.cookies.get(sessions.PRE_COOKIE, "")
    if not isinstance(given, str) or not expected or not sessions.same(expected, given):
        return _sign_in_page(
            request, 403, "The sign-in form had expired. It has been reloaded: try again."
        )
    token = data.get("token")
    principal = (
        sessions.principal_of_token(token, settings.secret) if isinstance(token, str) else None
    )
    if principal is None:
        return _sign_in_page(
            request,
            400,
            "That API token was not accepted: it is expired, incomplete or for another "
            "server. Paste the whole token, or ask for a sign-in link.",
        )
    nxt = data.get("next")
    return _open_session(request, principal, _safe_next(nxt if isinstance(nxt, str) else None))


@router.get("/sign-in/link")
def sign_in_link(request: Request, settings: AppSettings, token: str = "") -> Response:
    try:
        principal, _jti, _exp = sessions.read_link(token, settings.secret)
        return _open_session(request, principal, "/", use_link=token)
    except sessions.LinkInvalid as exc:
        return _sign_in_page(request, 400, str(exc))


@router.post("/sign-out")
async def sign_out(request: Request, signed: Signed, db: AppDatabase) -> Response:
    await form(request, signed)
    with db.write() as session:
        sessions.end(session, signed.id)
    response = redirect("/sign-in?out=1")
    response.delete_cookie(sessions.COOKIE, path="/")
    return response


@router.get("/")
def home(request: Request, signed: Signed, db: AppDatabase) -> Response:
    principal = signed.principal
    recent: list[services.JobView] = []
    if principal.can("import"):
        with db.read() as session:
            recent, _total = services.history(session, principal.org, None, None, 1, 5)
    return render(request, "home.html", recent=recent)
