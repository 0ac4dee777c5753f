"""The console's routes and static files, mounted at `/` by the API's app."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from loadbay.console.deps import HERE


def mount(app: FastAPI) -> None:
    from loadbay.console.routes_auth import router as auth
    from loadbay.console.routes_exports import router as exports
    from loadbay.console.routes_imports import router as imports
    from loadbay.console.routes_review import router as review

    app.include_router(auth)
    app.include_router(imports)
    app.include_router(review)
    app.include_router(exports)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="console-static")
