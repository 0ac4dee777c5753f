"""The FastAPI app: routers, envelope, error mapping, request logs."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from loadbay import __version__
from loadbay.apidocs import install as install_apidocs
from loadbay.db import Database, get_database, set_database
from loadbay.errors import install_error_handlers
from loadbay.logs import setup_logging
from loadbay.migrations import migrate
from loadbay.queue import attach as attach_queue
from loadbay.queue import configure as configure_queue
from loadbay.responses import JsonResponse
from loadbay.settings import Settings, get_settings
from loadbay.storage import get_storage

log = logging.getLogger("loadbay.request")

API = "/api/v3"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    setup_logging(settings.log_level)
    migrate(app.state.database)
    from loadbay.imports.upload import sweep_stale

    sweep_stale(settings.data_dir / "tmp")  # uploads a crashed API process left
    yield


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    run_migrations: bool = True,
) -> FastAPI:
    """The app for `settings` (default: the environment's), with its database (default:
    the process's, built from the settings when there is none yet) and storage, kept in
    `app.state` and handed to the request dependencies from there.

    They are installed as the process's current ones too (`get_settings`, `get_database`,
    `get_storage`), which the services not yet handed them still read: one app per
    process at a time. A test builds the app for its own settings this way instead of
    changing the environment and clearing the cached settings."""
    if settings is not None:
        get_settings.use(settings)
        configure_queue(settings)
    else:
        attach_queue()  # the environment's, unless the process already has one
    settings = get_settings()
    if database is not None:
        set_database(database)
    database = get_database(settings)
    from loadbay.catalog.routes import router as catalog_router
    from loadbay.catalog.service import known_organisation
    from loadbay.exports.routes import router as exports_router
    from loadbay.files.routes import router as files_router
    from loadbay.imports.routes import router as imports_router
    from loadbay.metrics import router as metrics_router
    from loadbay.queue import load_tasks, require
    from loadbay.webhooks.routes import router as webhooks_router

    load_tasks()
    require()  # the API enqueues plans and exports: a name without a task is a start-up error

    app = FastAPI(
        title="loadbay",
        version=__version__,
        description="Bulk import and export of field-operations data "
        "(wire-compatible with the MileApp v3 ImportExport API).",
        lifespan=lifespan if run_migrations else None,
        redirect_slashes=False,
        default_response_class=JsonResponse,
        docs_url=None,  # served by apidocs from the package: FastAPI's pages need a CDN
        redoc_url=None,
    )
    install_error_handlers(app)
    app.state.settings = settings
    app.state.database = database
    app.state.storage = get_storage(settings)
    app.state.max_json_depth = settings.max_json_depth  # named by the error handler
    # auth's check of a token's org, on this app's database
    app.state.known_organisation = functools.partial(known_organisation, database=database)
    app.include_router(catalog_router, prefix=API)
    app.include_router(imports_router, prefix=API)
    app.include_router(exports_router, prefix=API)
    app.include_router(webhooks_router, prefix=API)
    app.include_router(files_router)
    app.include_router(metrics_router)
    from loadbay.console.routes import mount as mount_console

    mount_console(app)  # the web console, at /
    install_apidocs(app)  # after every router: it documents the routes it finds

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, object]:
        with database.read() as session:
            session.connection().exec_driver_sql("SELECT 1")
        return {"status": True, "message": "ok", "version": __version__}

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> Response:
        """Whether queued work gets done: 503 naming why when no worker is alive or the
        queue is not moving (/healthz only says this process answers)."""
        from loadbay.heartbeats import not_ready
        from loadbay.queue import queue_depth

        waiting = queue_depth()
        reason = not_ready(database, settings, waiting)
        if reason is not None:
            return JsonResponse(
                {"status": False, "message": f"Not ready: {reason}", "failedCode": "server-036"},
                status_code=503,
                headers={"Retry-After": "5"},
            )
        return JsonResponse({"status": True, "message": "ready", "queued": max(waiting, 0)})

    app.add_middleware(RequestLog)

    from loadbay.admission import AdmissionMiddleware

    # Outermost: a shed skips all of the above. Sized by this app's settings.
    app.add_middleware(AdmissionMiddleware, settings=settings)
    return app


class RequestLog:
    """One log line a request: method, path, status, milliseconds, organisation. Pure
    ASGI: Starlette's `@app.middleware("http")` ran every request through a task and a
    memory stream, a fifth of a poll's time on the event loop."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets when the app fails before answering

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            if log.isEnabledFor(logging.INFO):
                state = scope.get("state") or {}
                principal = state.get("principal")
                log.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "ms": round((time.perf_counter() - started) * 1000, 1),
                        "org": getattr(principal, "org", None),
                    },
                )
