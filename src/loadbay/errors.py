"""One error type with a status and a code; one handler renders the spec's envelope."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from loadbay.responses import JsonResponse

log = logging.getLogger("loadbay.api")


class ApiError(Exception):
    """An error the client gets as `{"status": false, "message", "failedCode"}`."""

    status_code = 400

    def __init__(
        self,
        failed_code: str,
        message: str,
        status_code: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.failed_code = failed_code
        self.message = message
        self.extra = extra or {}
        if status_code is not None:
            self.status_code = status_code


class BadRequest(ApiError):
    status_code = 400


class Unauthorized(ApiError):
    status_code = 401

    def __init__(self, message: str = "Unauthorized", detail: str | None = None) -> None:
        super().__init__("auth-001", message, extra={"detail": detail} if detail else None)


class Forbidden(ApiError):
    status_code = 403

    def __init__(
        self,
        message: str = "Forbidden",
        failed_code: str = "auth-003",
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(failed_code, message, extra=extra)


class NotFound(ApiError):
    status_code = 404


class Conflict(ApiError):
    status_code = 409


class Gone(ApiError):
    status_code = 410


class TooLarge(ApiError):
    status_code = 413


class Unprocessable(ApiError):
    status_code = 422


def envelope(message: str, failed_code: str) -> dict[str, Any]:
    return {"status": False, "message": message, "failedCode": failed_code}


def module_of(path: str) -> str:
    """The `{module}` of an error code, from the request path."""
    parts = [p for p in path.split("/") if p and p not in ("api", "v3")]
    head = parts[0] if parts else "api"
    if head.startswith("import") or (len(parts) > 1 and parts[1] == "import"):
        return "import"
    if head.startswith("export") or (len(parts) > 1 and parts[1] in ("export", "export-log")):
        return "export"
    return {
        "data-type": "datatype",
        "data-types": "datatype",
        "hubs": "hub",
        "flows": "flow",
        "tasks": "task",
        "files": "file",
        "webhooks": "webhook",
    }.get(head, head)


NUL_TEXT = "Text must not contain NUL characters"


def _nul_refused(exc: BaseException) -> bool:
    """PostgreSQL's refusal of a NUL character in a parameter (the driver's error, under
    SQLAlchemy's): the client sent text no engine can compare or store the same way."""
    seen: BaseException | None = exc
    for _ in range(4):
        if seen is None:
            return False
        if "NUL (0x00)" in str(seen):
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__
    return False


class NulGuard:
    """400 `{module}-003` for a NUL character in the path or the query, before routing:
    nothing can be named with one, and PostgreSQL refuses to compare text holding it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            query: bytes = scope.get("query_string", b"")
            if "\x00" in scope["path"] or b"%00" in query or b"\x00" in query:
                message = "The path and the query must not contain NUL characters"
                code = f"{module_of(scope['path'])}-003"
                await JsonResponse(envelope(message, code), status_code=400)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    app.add_middleware(NulGuard)

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JsonResponse:
        body = {**envelope(exc.message, exc.failed_code), **exc.extra}
        return JsonResponse(body, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JsonResponse:
        first = exc.errors()[0] if exc.errors() else {}
        code = f"{module_of(request.url.path)}-003"
        if first.get("type") == "json_invalid":
            # The parser's own words ("11: JSON decode error") name neither the problem nor
            # where it is in words a person reads; its position (0-based) does.
            at = next((p for p in first.get("loc", ()) if isinstance(p, int)), None)
            near = f" (near character {at + 1})" if at is not None else ""
            message = f"Malformed body: the body is not valid JSON{near}"
            return JsonResponse(envelope(message, code), status_code=400)
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = f"{where}: {first.get('msg', 'invalid request')}" if where else "Malformed body"
        # The vendor answers 400 for invalid parameters on every endpoint it documents.
        return JsonResponse(envelope(message, code), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JsonResponse:
        module = module_of(request.url.path)
        codes = {404: "033", 405: "003", 401: "034", 403: "035", 413: "040", 429: "036"}
        code = f"{module}-{codes.get(exc.status_code, '003')}"
        message = "Not found" if exc.status_code == 404 else str(exc.detail)
        if isinstance(exc.__cause__, RecursionError):  # FastAPI's body parsing, too deep
            limit = getattr(request.app.state, "max_json_depth", 64)
            code, message = (
                f"{module}-015",
                f"The body is nested deeper than the limit of {limit} levels",
            )
        return JsonResponse(envelope(message, code), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JsonResponse:
        if isinstance(exc, TimeoutError):  # e.g. SQLite's write turn: busy, not broken
            log.warning("timed out on %s %s: %s", request.method, request.url.path, exc)
            body = envelope("The service is busy: try again shortly", "server-036")
            return JsonResponse(body, status_code=503, headers={"Retry-After": "5"})
        if _nul_refused(exc):  # a NUL in a form or a body field that reached PostgreSQL
            body = envelope(NUL_TEXT, f"{module_of(request.url.path)}-003")
            return JsonResponse(body, status_code=400)
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        code = f"{module_of(request.url.path)}-045"
        return JsonResponse(envelope("Internal server error", code), status_code=500)
