"""Request dependencies: the unit of work belongs to the request."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.orm import Session

from loadbay.db import get_database


def write_session() -> Iterator[Session]:
    """Commits when the handler returns, rolls back when it raises."""
    with get_database().write() as session:
        yield session


def read_session() -> Iterator[Session]:
    with get_database().read() as session:
        yield session


WriteSession = Annotated[Session, Depends(write_session)]
ReadSession = Annotated[Session, Depends(read_session)]
