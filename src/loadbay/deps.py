"""Request dependencies: the unit of work belongs to the request."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from loadbay.db import Database, get_database


def database(request: Request) -> Database:
    """The app's database (`create_app` keeps it in `app.state`); a bare app built
    around a router (some tests) has none and uses the process's."""
    found: Database | None = getattr(request.app.state, "database", None)
    return found if found is not None else get_database()


def write_session(request: Request) -> Iterator[Session]:
    """Commits when the handler returns, rolls back when it raises."""
    with database(request).write() as session:
        yield session


def read_session(request: Request) -> Iterator[Session]:
    with database(request).read() as session:
        yield session


WriteSession = Annotated[Session, Depends(write_session)]
ReadSession = Annotated[Session, Depends(read_session)]
