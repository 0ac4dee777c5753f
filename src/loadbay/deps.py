"""Request dependencies: the unit of work belongs to the request, and what the app was
built with (`create_app` keeps its settings, database and storage in `app.state`) is
handed to the routes from there."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from loadbay.db import Database, get_database
from loadbay.settings import Settings, get_settings
from loadbay.storage import Storage, get_storage


def database(request: Request) -> Database:
    """The app's database; a bare app built around a router (some tests) has none and
    uses the process's."""
    found: Database | None = getattr(request.app.state, "database", None)
    return found if found is not None else get_database()


def settings(request: Request) -> Settings:
    """The settings the app was built for (a bare app: the process's)."""
    found: Settings | None = getattr(request.app.state, "settings", None)
    return found if found is not None else get_settings()


def storage(request: Request) -> Storage:
    """The app's file storage (a bare app: the process's)."""
    found: Storage | None = getattr(request.app.state, "storage", None)
    return found if found is not None else get_storage()


@dataclass(frozen=True)
class Runtime:
    """All three, for a route that hands them on to a service run off the event loop."""

    db: Database
    settings: Settings
    storage: Storage


def runtime(request: Request) -> Runtime:
    return Runtime(database(request), settings(request), storage(request))


def current(run: Runtime | None = None) -> Runtime:
    """`run` when a route handed it on; else the process's current ones, for a caller
    the app did not hand them to."""
    return run if run is not None else Runtime(get_database(), get_settings(), get_storage())


def write_session(request: Request) -> Iterator[Session]:
    """Commits when the handler returns, rolls back when it raises."""
    with database(request).write() as session:
        yield session


def read_session(request: Request) -> Iterator[Session]:
    with database(request).read() as session:
        yield session


WriteSession = Annotated[Session, Depends(write_session)]
ReadSession = Annotated[Session, Depends(read_session)]
AppDatabase = Annotated[Database, Depends(database)]
AppSettings = Annotated[Settings, Depends(settings)]
AppStorage = Annotated[Storage, Depends(storage)]
AppRuntime = Annotated[Runtime, Depends(runtime)]
