"""Scale-out fixtures: real `loadbay` processes on real engines, and the checks they share.

Every process a test starts goes through `procs`, which stops it at teardown
(SIGTERM, then SIGKILL), and logs to a file the test can read and that is never
left open. The fixtures of tests/imports and tests/storage are re-exported so
the tests here can upload through the in-process API and use the moto S3 server.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import redis
import sqlalchemy as sa
from huey.storage import PriorityRedisStorage, SqliteStorage

from loadbay.catalog.models import Record
from loadbay.db import Database
from loadbay.imports.models import ImportChunk, ImportJob
from loadbay.queue import huey
from tests.imports.conftest import catalog, monitoring, org_id, upload  # noqa: F401
from tests.storage.conftest import moto_s3, s3_settings  # noqa: F401

REDIS_URL = os.environ.get("LOADBAY_TEST_REDIS_URL", "")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Callable[[], Any], timeout: float, what: Callable[[], str] | str) -> Any:
    """Poll until `check()` is truthy; fail naming what was awaited (a callable is read late)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g}s: {what() if callable(what) else what}")
        time.sleep(0.05)


def outlet_csv(rows: int, *, prefix: str = "C", invalid_every: int = 0) -> tuple[bytes, int]:
    """A CSV of outlets with unique codes; every `invalid_every`-th row lacks its required
    name. Returns the bytes and how many rows are invalid."""
    lines = ["Outlet Code,Name"]
    invalid = 0
    for i in range(rows):
        bad = invalid_every and i % invalid_every == 0
        invalid += bool(bad)
        lines.append(f"{prefix}{i:06d},{'' if bad else f'Outlet {i}'}")
    return ("\r\n".join(lines) + "\r\n").encode(), invalid


# ---- processes -------------------------------------------------------------------------


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def events(self) -> list[dict[str, Any]]:
        """The JSON log lines this process wrote (tracebacks and other text are skipped)."""
        found = []
        for line in self.text().splitlines():
            if line.startswith("{"):
                try:
                    found.append(orjson.loads(line))
                except orjson.JSONDecodeError:
                    continue
        return found

    def tail(self, chars: int = 3000) -> str:
        return f"--- {self.name} (exit {self.popen.poll()}) ---\n{self.text()[-chars:]}"


@dataclass
class Procs:
    """Starts `loadbay …` (or any command) in the background; stops them all at teardown."""

    folder: Path
    env: dict[str, str] = field(default_factory=dict)
    started: list[Proc] = field(default_factory=list)

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None) -> Proc:
        log = self.folder / f"{name}.log"
        with log.open("ab") as sink:  # the child keeps its own descriptor
            popen = subprocess.Popen(
                args,
                env={**os.environ, **self.env, **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=sink,
            )
        proc = Proc(name, popen, log)
        self.started.append(proc)
        return proc

    def loadbay(self, name: str, *args: str, env: dict[str, str] | None = None) -> Proc:
        return self.start(name, [sys.executable, "-m", "loadbay", *args], env)

    def worker(self, name: str, env: dict[str, str] | None = None) -> Proc:
        return self.loadbay(name, "worker", "--concurrency", "1", env=env)

    def logs(self) -> str:
        return "\n".join(p.tail() for p in self.started)

    @staticmethod
    def stop(proc: Proc, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        if proc.popen.poll() is None:
            proc.popen.send_signal(sig)
            try:
                proc.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait()
        return int(proc.popen.returncode)

    def stop_all(self) -> None:
        for proc in reversed(self.started):
            self.stop(proc)


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Procs]:
    folder = tmp_path / "logs"
    folder.mkdir()
    registry = Procs(folder)
    try:
        yield registry
    finally:
        registry.stop_all()


def wait_http(proc: Proc, base: str, timeout: float = 30) -> None:
    def up() -> bool:
        assert proc.popen.poll() is None, proc.tail()
        try:
            return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(up, timeout, proc.tail)


def child_pids(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except OSError:
                continue
    return found


# ---- queues ----------------------------------------------------------------------------


@dataclass
class SwappedQueue:
    url: str
    storage: Any

    def pending(self) -> int:
        return int(self.storage.queue_size())


@contextmanager
def swapped_to_redis(url: str) -> Iterator[SwappedQueue]:
    """Point this process's Huey at Redis `url` (the API in this process enqueues there)."""
    storage = PriorityRedisStorage(name="loadbay", url=url)
    saved = huey.storage, huey.immediate
    huey.immediate = False
    huey.storage = storage
    try:
        yield SwappedQueue(url, storage)
    finally:
        huey.storage, huey.immediate = saved
        storage.conn.connection_pool.disconnect()
        storage.conn.close()


@contextmanager
def swapped_to_sqlite(path: Path) -> Iterator[SwappedQueue]:
    """Point this process's Huey at a SQLite queue file that worker processes consume."""
    storage = SqliteStorage(name="loadbay", filename=str(path))
    saved = huey.storage, huey.immediate
    huey.immediate = False
    huey.storage = storage
    try:
        yield SwappedQueue(f"sqlite:///{path}", storage)
    finally:
        huey.storage, huey.immediate = saved
        storage.close()


@pytest.fixture
def redis_queue() -> Iterator[SwappedQueue]:
    """The shared test Redis (LOADBAY_TEST_REDIS_URL), its database flushed before and after."""
    if not REDIS_URL:
        pytest.skip("LOADBAY_TEST_REDIS_URL is not set")
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.flushdb()
        with swapped_to_redis(REDIS_URL) as queue:
            yield queue
        client.flushdb()
    finally:
        client.close()


@dataclass
class OwnRedis:
    """A redis-server of this test's own, on a free loopback port, that can be killed."""

    procs: Procs
    port: int
    proc: Proc | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary is not None
        self.proc = self.procs.start(
            f"redis-{len(self.procs.started)}",
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"],
        )  # fmt: skip
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5)

        def ready() -> bool:
            try:
                return bool(client.ping())
            except redis.ConnectionError:
                return False

        try:
            wait_for(ready, 10, lambda: self.proc.tail() if self.proc else "")
        finally:
            client.close()

    def kill(self) -> None:
        assert self.proc is not None
        Procs.stop(self.proc, signal.SIGKILL)


@pytest.fixture
def own_redis(procs: Procs) -> OwnRedis:
    if shutil.which("redis-server") is None:
        pytest.skip("the redis-server binary is not installed")
    server = OwnRedis(procs, free_port())
    server.start()
    return server  # `procs` stops it at teardown


# ---- the database's view of a job ------------------------------------------------------


def job_row(db: Database, job_id: str) -> ImportJob:
    with db.read() as session:
        job = session.get(ImportJob, job_id)
        assert job is not None
        return job


def job_state(db: Database, job_id: str) -> str:
    job = job_row(db, job_id)
    with db.read() as session:
        open_chunks = session.execute(
            sa.select(ImportChunk.seq, ImportChunk.state, ImportChunk.lease_owner,
                      ImportChunk.lease_expires, ImportChunk.attempts)
            .where(ImportChunk.job_id == job_id, ImportChunk.state != "done")
        ).all()  # fmt: skip
    return (
        f"job {job_id} {job.phase}/{job.status} chunks {job.processed_chunks}/{job.total_chunks} "
        f"attempts={job.attempts} lease={job.lease_expires}; open chunks {open_chunks[:10]}"
    )


def wait_done(db: Database, job_ids: list[str], timeout: float, logs: Callable[[], str]) -> None:
    def done() -> bool:
        return all(job_row(db, j).phase == "done" for j in job_ids)

    wait_for(done, timeout, lambda: "\n".join(job_state(db, j) for j in job_ids) + "\n" + logs())


def assert_exact(db: Database, job_id: str, rows: int, invalid: int = 0) -> ImportJob:
    """The job counted every row once, every chunk is done, and its records are all there once."""
    job = job_row(db, job_id)
    assert job.phase == "done", job_state(db, job_id)
    assert job.status == ("success" if not invalid else "partially"), job_state(db, job_id)
    assert (job.total_rows, job.processed_rows) == (rows, rows)
    assert (job.created_count, job.updated_count, job.skipped_count, job.failed_count) == (
        rows - invalid,
        0,
        0,
        invalid,
    ), job_state(db, job_id)
    with db.read() as session:
        states = session.execute(
            sa.select(ImportChunk.state, sa.func.count(), sa.func.sum(ImportChunk.row_count))
            .where(ImportChunk.job_id == job_id)
            .group_by(ImportChunk.state)
        ).all()
        assert [tuple(s) for s in states] == [("done", job.total_chunks, rows)]
        assert job.processed_chunks == job.total_chunks
    return job


def assert_records(db: Database, expected: int) -> None:
    """Exactly `expected` records, none written twice (the data ids are all distinct)."""
    with db.read() as session:
        total, distinct = session.execute(
            sa.select(sa.func.count(), sa.func.count(sa.distinct(Record.data_id)))
        ).one()
    assert (total, distinct) == (expected, expected)
