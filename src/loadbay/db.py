"""Engines and sessions (the migrations are applied by `loadbay.migrations.migrate`).

SQLite runs in WAL mode with two engines: writes begin IMMEDIATE (a deferred
BEGIN that later writes fails at once with SQLITE_BUSY under WAL, ignoring the
busy timeout), reads begin deferred so they never hold the write lock.
PostgreSQL uses one engine for both.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import orjson
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from loadbay.ids import new_id, utcnow
from loadbay.settings import Settings

JsonType = sa.JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    type_annotation_map = {datetime: sa.DateTime(), dict[str, Any]: JsonType}


def id_column() -> Mapped[str]:
    return mapped_column(sa.String(24), primary_key=True, default=new_id)


def created_column() -> Mapped[datetime]:
    return mapped_column(sa.DateTime(), default=utcnow, nullable=False)


def updated_column() -> Mapped[datetime]:
    return mapped_column(sa.DateTime(), default=utcnow, onupdate=utcnow, nullable=False)


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


# As long as SQLite's own busy timeout: a writer waits this long for its turn, then fails.
WRITER_TIMEOUT_SECONDS = 60.0


class WriterTimeout(TimeoutError):
    """SQLite's write turn was not had in time (transient: the caller may try again)."""


def _exclusive(path: Path, timeout: float) -> IO[bytes] | None:
    """An open handle holding the exclusive flock on `path`, or None when another holds
    it for longer than `timeout` seconds (0: do not wait).

    A blocking flock hands the turn over the moment it is released, which polling does
    not, but it cannot time out: the wait runs in a helper thread on its own open file,
    and a helper whose caller has given up releases the turn as soon as it gets it."""
    handle = open(path, "a+b")  # noqa: SIM115 (returned to the caller)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return handle
    except BlockingIOError:
        handle.close()
    if timeout <= 0:
        return None
    got = threading.Event()
    state_lock = threading.Lock()
    state: dict[str, Any] = {"abandoned": False, "handle": None, "error": None}

    def wait() -> None:
        try:
            mine = open(path, "a+b")  # noqa: SIM115
            fcntl.flock(mine, fcntl.LOCK_EX)
        except OSError as exc:
            state["error"] = exc
            got.set()
            return
        with state_lock:
            if state["abandoned"]:
                fcntl.flock(mine, fcntl.LOCK_UN)
                mine.close()
                return
            state["handle"] = mine
        got.set()

    threading.Thread(target=wait, name="sqlite-writer-turn", daemon=True).start()
    got.wait(timeout)
    with state_lock:
        if state["error"] is not None:
            raise state["error"]
        if state["handle"] is None:
            state["abandoned"] = True
            return None
        held: IO[bytes] = state["handle"]
        return held


class Database:
    """The engines and session factories of one configured database."""

    def __init__(
        self,
        url: str,
        *,
        writer_timeout: float = WRITER_TIMEOUT_SECONDS,
        pool_size: int | None = None,
    ) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.writer_timeout = writer_timeout
        self._lock_path: Path | None = None
        self._held = threading.local()
        if pool_size is None:
            from loadbay.settings import get_settings

            pool_size = get_settings().db_pool_size
        # Sized with the API's thread pool (Settings.db_pool_size): a thread never waits
        # for a connection, so no request queues into the pool's timeout.
        common: dict[str, Any] = {
            "json_serializer": _json_dumps,
            "json_deserializer": orjson.loads,
        }
        pooled = {"pool_size": pool_size, "max_overflow": pool_size}
        if self.is_sqlite:
            path = url.split("///", 1)[1] if "///" in url else ""
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                self._lock_path = Path(path).with_name(Path(path).name + ".writer-lock")
                common |= pooled  # an in-memory database has one connection a thread
            connect_args = {"timeout": 60, "check_same_thread": False}
            self.engine = sa.create_engine(url, connect_args=connect_args, **common)
            self.read_engine = sa.create_engine(url, connect_args=connect_args, **common)
            _sqlite_setup(self.engine, begin="BEGIN IMMEDIATE")
            _sqlite_setup(self.read_engine, begin="BEGIN")
        else:
            # No server-side prepared statements: a generic plan made while `records` was
            # small kept seq-scanning it for a chunk's 5,000-key lookup (19 s a chunk at
            # 200,000 rows, measured); custom plans use the index and hash the key list.
            self.engine = sa.create_engine(
                url,
                pool_pre_ping=True,
                connect_args={"prepare_threshold": None},
                **common,
                **pooled,
            )
            self.read_engine = self.engine
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.read_sessions = sessionmaker(self.read_engine, expire_on_commit=False)

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A unit of work: commits on success, rolls back on error."""
        with self._writer_turn(wait=True), self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def try_write(self) -> Iterator[Session | None]:
        """`write`, or None at once when another writer holds SQLite's write turn (a
        caller with other work to do comes back later instead of queueing)."""
        with self._writer_turn(wait=False) as turn:
            if not turn:
                yield None
                return
            with self.sessions() as session, session.begin():
                yield session

    @contextmanager
    def _writer_turn(self, *, wait: bool) -> Iterator[bool]:
        """On SQLite, writers queue on a file lock before BEGIN IMMEDIATE; yields whether
        the turn is ours (always, when `wait`; WriterTimeout after `writer_timeout`).

        SQLite's own busy handler polls with sleeps of up to 100 ms, so a writer waiting
        for another's 30 ms chunk commit often slept three times as long as it waited;
        a blocking flock hands the turn over the moment it is released, across threads
        and processes alike (each call opens its own file description)."""
        if self._lock_path is None or getattr(self._held, "turn", False):
            yield True
            return
        handle = _exclusive(self._lock_path, self.writer_timeout if wait else 0)
        if handle is None:
            if wait:
                raise WriterTimeout(
                    f"SQLite's write turn was not free for {self.writer_timeout:g} s"
                )
            yield False
            return
        with handle:
            self._held.turn = True
            try:
                yield True
            finally:
                self._held.turn = False
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self.read_sessions() as session, session.begin():
            yield session

    def checkpoint(self) -> None:
        """Copy the WAL into the database file without waiting for anyone (SQLite).

        A chunk calls this after its commit: the copy then runs beside the next writer
        instead of inside a commit that holds the write turn (measured: 15% less time in
        the turn for a million-row import)."""
        if not self.is_sqlite:
            return
        raw = self.read_engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
            cursor.close()
        finally:
            raw.close()

    def dispose(self) -> None:
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()


WAL_AUTOCHECKPOINT_PAGES = 16_000  # 64 MB of 4 KB pages


def _sqlite_setup(engine: Engine, begin: str) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA cache_size=-65536")
        # Big writers checkpoint after their commit, outside the write turn (`checkpoint`);
        # the automatic one, run inside whichever commit crosses it, is only a backstop.
        cur.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)


_db: Database | None = None


def get_database(settings: Settings | None = None) -> Database:
    global _db
    if _db is None:
        from loadbay.settings import get_settings

        settings = settings or get_settings()
        _db = Database(settings.effective_database_url, pool_size=settings.db_pool_size)
    return _db


def set_database(db: Database | None) -> None:
    """Swap the process-wide database (tests, CLI)."""
    global _db
    if _db is not None and db is not _db:
        _db.dispose()
    _db = db


def _forget_after_fork() -> None:
    # A forked worker must not share the parent's pooled connections.
    global _db
    if _db is not None:
        _db.engine.dispose(close=False)
        if _db.read_engine is not _db.engine:
            _db.read_engine.dispose(close=False)
        _db = None


os.register_at_fork(after_in_child=_forget_after_fork)


def table_of(model: type[Base]) -> sa.Table:
    """A model's Table, typed as such (`__table__` is typed as a FromClause)."""
    table = model.__table__
    assert isinstance(table, sa.Table)
    return table


def rowcount(result: sa.Result[Any]) -> int:
    """Rows an UPDATE/DELETE changed (`Result` is typed without it)."""
    return int(getattr(result, "rowcount", 0))
