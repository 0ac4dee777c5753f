"""The API's manual: the OpenAPI document with texts and examples, served offline at /docs."""

from __future__ import annotations

from importlib import resources
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from loadbay.apidocs.document import enrich

STATIC = "/docs/static"


def install(app: FastAPI) -> None:
    """Serve /docs from the package's own swagger-ui copy (no CDN) and enrich /openapi.json.

    The app must be created with `docs_url=None, redoc_url=None`: FastAPI's own pages
    load their assets from a CDN, which is blank without internet.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = enrich(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    static = resources.files("loadbay.apidocs").joinpath("static")
    app.mount(STATIC, StaticFiles(directory=str(static)), name="apidocs-static")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            swagger_js_url=f"{STATIC}/swagger-ui-bundle.js",
            swagger_css_url=f"{STATIC}/swagger-ui.css",
            swagger_favicon_url=f"{STATIC}/favicon-32x32.png",
            swagger_ui_parameters={"persistAuthorization": True, "displayRequestDuration": True},
        )
