"""SQLite's writer turn: a flock that hands over at once, with a timeout."""

from __future__ import annotations

import fcntl
import threading
import time
from pathlib import Path

import pytest

from loadbay.db import Database, WriterTimeout


def _database(tmp_path: Path, timeout: float) -> Database:
    return Database(f"sqlite:///{tmp_path / 'lock.db'}", writer_timeout=timeout)


def _hold(tmp_path: Path):  # type: ignore[no-untyped-def]
    handle = (tmp_path / "lock.db.writer-lock").open("a+b")
    fcntl.flock(handle, fcntl.LOCK_EX)
    return handle


def test_a_writer_gives_up_after_the_timeout_and_leaves_the_turn_free(tmp_path: Path) -> None:
    db = _database(tmp_path, 0.5)
    holder = _hold(tmp_path)
    started = time.monotonic()
    with pytest.raises(WriterTimeout), db.write():
        pass
    assert 0.4 < time.monotonic() - started < 2
    fcntl.flock(holder, fcntl.LOCK_UN)
    holder.close()
    # The helper that was still queued takes the turn and lets it go at once.
    started = time.monotonic()
    with db.write() as session:
        session.connection().exec_driver_sql("SELECT 1")
    assert time.monotonic() - started < 1
    db.dispose()


def test_the_turn_passes_the_moment_it_is_released(tmp_path: Path) -> None:
    db = _database(tmp_path, 10)
    holder = _hold(tmp_path)
    entered: list[float] = []

    def write() -> None:
        with db.write():
            entered.append(time.monotonic())

    thread = threading.Thread(target=write)
    thread.start()
    time.sleep(0.3)
    released = time.monotonic()
    fcntl.flock(holder, fcntl.LOCK_UN)
    thread.join(5)
    holder.close()
    assert entered and entered[0] - released < 0.1
    db.dispose()


def test_try_write_does_not_wait(tmp_path: Path) -> None:
    db = _database(tmp_path, 10)
    holder = _hold(tmp_path)
    started = time.monotonic()
    with db.try_write() as session:
        assert session is None
    assert time.monotonic() - started < 0.5
    holder.close()
    db.dispose()
