"""Shared fixtures: real databases (SQLite always, PostgreSQL when configured), the app, tokens.

The environment is set before `loadbay` is imported: the queue runs in
immediate mode (tasks run inline when enqueued) unless a test starts real
worker processes, and everything lands in one throwaway data folder.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

_DATA_DIR = Path(tempfile.mkdtemp(prefix="loadbay-test-"))
os.environ["LOADBAY_DATA_DIR"] = str(_DATA_DIR)
os.environ["LOADBAY_QUEUE_URL"] = "memory://"
os.environ["LOADBAY_JWT_SECRET"] = "test-secret-" + "x" * 40
os.environ["LOADBAY_LINK_SECRET"] = "link-secret-" + "y" * 40
os.environ.pop("LOADBAY_DATABASE_URL", None)
os.environ.pop("LOADBAY_STORAGE_URL", None)
os.environ.pop("LOADBAY_SMTP_HOST", None)

import sqlalchemy as sa  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from huey.storage import SqliteStorage  # noqa: E402

from loadbay.auth import issue_token  # noqa: E402
from loadbay.db import Base, Database, get_database, set_database  # noqa: E402
from loadbay.migrations import migrate  # noqa: E402
from loadbay.queue import configure, huey  # noqa: E402
from loadbay.settings import Settings, get_settings  # noqa: E402

POSTGRES_URL = os.environ.get("LOADBAY_TEST_POSTGRES_URL", "")
# The test process starts as `serve` and `worker` do: its queue (memory://, immediate)
# attached once, before any test, whichever test runs first.
configure(get_settings())


def _postgres_schema_url(base: str, schema: str) -> str:
    sep = "&" if "?" in base else "?"
    url = base.replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{url}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture(scope="session")
def sqlite_database() -> Iterator[Database]:
    db = Database(f"sqlite:///{_DATA_DIR / 'test.db'}")
    migrate(db)
    yield db
    db.dispose()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[Database]:
    if not POSTGRES_URL:
        pytest.skip("LOADBAY_TEST_POSTGRES_URL is not set")
    schema = f"t_{secrets.token_hex(6)}"
    admin = sa.create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    db = Database(_postgres_schema_url(POSTGRES_URL, schema))
    migrate(db)
    yield db
    db.dispose()
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    admin.dispose()


def _truncate(db: Database) -> None:
    with db.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest) -> Iterator[Database]:
    """A migrated, empty database on each engine; set as the process-wide one."""
    database: Database = request.getfixturevalue(f"{request.param}_database")
    set_database(database)
    yield database
    _truncate(database)


@pytest.fixture
def sqlite_db(sqlite_database: Database) -> Iterator[Database]:
    """SQLite only, for tests whose subject is not the engine."""
    set_database(sqlite_database)
    yield sqlite_database
    _truncate(sqlite_database)


@pytest.fixture
def data_dir() -> Path:
    return _DATA_DIR


@pytest.fixture
def app_client(db: Database) -> Iterator[TestClient]:
    from loadbay.api import create_app

    with TestClient(create_app(run_migrations=False), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def make_app() -> Iterator[Callable[..., FastAPI]]:
    """`make_app(**overrides)`: an app built for its own settings (the environment's,
    with `overrides`), on the test's database (the `db` or `sqlite_db` fixture's), as
    `loadbay serve` builds one: no environment change, no cached settings cleared. The
    app installs its settings as the process's current ones for the services that
    still read them; they are forgotten afterwards (the environment's again)."""
    from loadbay.api import create_app

    def _build(**overrides: Any) -> FastAPI:
        return create_app(Settings(**overrides), database=get_database(), run_migrations=False)

    yield _build
    get_settings.cache_clear()
    configure(get_settings())


AppFactory = Callable[..., TestClient]


@pytest.fixture
def worker_for() -> Iterator[Callable[..., Settings]]:
    """`worker_for(**overrides)`: this process set up for its own settings as `loadbay
    worker` sets itself up (`run_consumer(settings=...)`), for tests that run the tasks'
    services directly: the settings become the current ones the services read (the queue
    is pointed at theirs only when `queue_url` is given). The environment's afterwards."""

    def _start(**overrides: Any) -> Settings:
        settings = Settings(**overrides)
        get_settings.use(settings)
        if "queue_url" in overrides:
            configure(settings)
        return settings

    yield _start
    get_settings.cache_clear()


@pytest.fixture
def app_for(make_app: Callable[..., FastAPI]) -> Iterator[AppFactory]:
    """`app_for(**overrides)`: a client of `make_app(**overrides)`."""
    opened: list[TestClient] = []

    def _build(**overrides: Any) -> TestClient:
        client = TestClient(make_app(**overrides), raise_server_exceptions=False)
        opened.append(client)
        return client.__enter__()

    yield _build
    for client in reversed(opened):
        client.__exit__(None, None, None)


TokenFactory = Callable[..., str]


@pytest.fixture
def make_org(db: Database) -> Callable[[str], str]:
    from loadbay.catalog.service import ensure_organization

    def _make(name: str) -> str:
        with db.write() as session:
            return ensure_organization(session, name).id

    return _make


@pytest.fixture
def token_for(make_org: Callable[[str], str]) -> TokenFactory:
    def _token(
        org: str = "acme", email: str = "ops@acme.test", perms: str = "import,export"
    ) -> str:
        org_id = make_org(org)
        return issue_token(org_id, email, [p for p in perms.split(",") if p])

    return _token


@pytest.fixture
def auth(token_for: TokenFactory) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for()}"}


@pytest.fixture
def real_queue(tmp_path: Path, db: Database) -> Iterator[dict[str, str]]:
    """Point this process's queue at a SQLite file that real worker processes consume
    (`start_worker`); leases of 2 s, so a dead worker's work is taken over quickly."""
    queue = tmp_path / "queue.db"
    saved = huey.storage, huey.immediate
    huey.immediate = False
    huey.storage = SqliteStorage(name="loadbay", filename=str(queue))
    env = {
        **os.environ,
        "LOADBAY_QUEUE_URL": f"sqlite:///{queue}",
        "LOADBAY_DATABASE_URL": db.url,
        "LOADBAY_LEASE_SECONDS": "2",
        "LOADBAY_CHUNK_SIZE": "200",
        "LOADBAY_LOG_LEVEL": "WARNING",
    }
    yield env
    huey.storage, huey.immediate = saved[0], saved[1]


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "loadbay", "worker", "--concurrency", "1", "--no-periodic"],
            env=env, stdout=subprocess.DEVNULL, stderr=sink,
        )  # fmt: skip


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Set LOADBAY_* variables for one test; settings are re-read, and again afterwards.
    Only for what must reach other processes through the environment: a test builds an
    app for its settings with `app_for`/`make_app`, or runs services with `worker_for`."""

    def _set(**values: Any) -> None:
        for name, value in values.items():
            monkeypatch.setenv(f"LOADBAY_{name.upper()}", str(value))
        get_settings.cache_clear()

    yield _set
    monkeypatch.undo()
    get_settings.cache_clear()
