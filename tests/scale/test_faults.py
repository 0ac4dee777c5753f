"""Faults on real engines: Redis restarted empty, database connections killed mid-chunk, the
API restarted mid-import. Each import must still end with every row counted exactly once.

(A worker killed with SIGKILL mid-chunk is tests/imports/test_crash.py.)
"""

from __future__ import annotations

import os
import secrets
import signal
import threading
import time
from pathlib import Path

import httpx
import psycopg
import pytest
import sqlalchemy as sa

from loadbay.db import Database
from loadbay.imports.models import ImportChunk
from tests.conftest import POSTGRES_URL
from tests.imports.conftest import Uploader
from tests.scale.conftest import (
    OwnRedis,
    Procs,
    assert_exact,
    assert_records,
    child_pids,
    free_port,
    job_row,
    job_state,
    outlet_csv,
    swapped_to_redis,
    swapped_to_sqlite,
    wait_done,
    wait_for,
    wait_http,
)

pytestmark = pytest.mark.slow


def _processed(db: Database, job_ids: list[str]) -> int:
    return sum(job_row(db, j).processed_chunks for j in job_ids)


def test_redis_restarted_empty_while_jobs_are_queued(
    own_redis: OwnRedis, procs: Procs, db: Database, upload: Uploader
) -> None:
    jobs = {prefix: outlet_csv(6_000, prefix=prefix, invalid_every=500) for prefix in "ABC"}
    with swapped_to_redis(own_redis.url) as queue:
        ids = {}
        for prefix, (content, _) in jobs.items():
            response = upload(content, filename=f"{prefix}.csv")
            assert response.status_code == 200, response.text
            ids[prefix] = response.json()["data"]["_id"]
        assert queue.pending() == 3
    procs.env = {
        "LOADBAY_QUEUE_URL": own_redis.url,
        "LOADBAY_DATABASE_URL": db.url,
        "LOADBAY_CHUNK_SIZE": "200",
        "LOADBAY_SWEEP_INTERVAL_SECONDS": "1",
        "LOADBAY_LEASE_SECONDS": "2",
        "LOADBAY_LOG_LEVEL": "INFO",
    }
    workers = [procs.worker(f"worker{i}") for i in (1, 2)]
    job_ids = list(ids.values())
    wait_for(lambda: _processed(db, job_ids) >= 5, 30, procs.logs)

    own_redis.kill()  # every queued plan and chunk message is gone with it
    at_kill = _processed(db, job_ids)
    time.sleep(2.5)  # longer than a lease: workers see a dead queue, leases run out
    own_redis.start()  # the same port, empty
    assert at_kill < 3 * 30, "every job finished before Redis went down: nothing was tested"

    wait_done(db, job_ids, 50, procs.logs)
    for prefix, job_id in ids.items():
        assert_exact(db, job_id, 6_000, jobs[prefix][1])
    assert_records(db, sum(6_000 - invalid for _, invalid in jobs.values()))
    for w in workers:
        assert procs.stop(w) == 0, w.tail()
    requeued = [
        e
        for w in workers
        for e in w.events()
        if e["msg"] == "sweep re-enqueued" and (e["chunks"] or e["plans"])
    ]
    assert requeued, "the sweeper re-enqueued nothing: " + procs.logs()


class BackendKiller(threading.Thread):
    """Terminates the database sessions of one application while they are inside a statement
    or a transaction, every `every` seconds, until `kills` of them are gone or it is stopped."""

    def __init__(self, url: str, application: str, kills: int, every: float) -> None:
        super().__init__(daemon=True, name="backend-killer")
        self.url, self.application = url, application
        self.kills, self.every = kills, every
        self.killed: list[str] = []
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with psycopg.connect(self.url, autocommit=True) as conn:
                while len(self.killed) < self.kills and not self.stop.wait(self.every):
                    victims = conn.execute(
                        "SELECT pid, state, left(query, 60) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND application_name = %s "
                        "AND pid <> pg_backend_pid() AND query NOT LIKE %s "
                        "AND state IN ('active', 'idle in transaction')",
                        (self.application, "%pg_stat_activity%"),
                    ).fetchall()
                    for pid, state, query in victims[:1]:
                        if conn.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone():
                            self.killed.append(f"{pid} {state}: {query}")
        except BaseException as exc:  # reported by the test, not lost in the thread
            self.error = exc


@pytest.mark.parametrize(
    "db", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_database_connections_killed_mid_chunk(
    procs: Procs, db: Database, upload: Uploader, tmp_path: Path
) -> None:
    rows = 40_000  # long enough that the killer catches sessions mid-chunk however fast they are
    content, invalid = outlet_csv(rows, invalid_every=1000)
    queue = tmp_path / "queue.db"
    with swapped_to_sqlite(queue):
        response = upload(content)
    assert response.status_code == 200, response.text
    job_id = response.json()["data"]["_id"]
    # The worker's sessions carry a name of their own, so the killer ends only them, never
    # this process's sessions nor anyone else's on the shared server.
    application = f"loadbay-fault-{secrets.token_hex(4)}"
    worker = procs.worker(
        "worker",
        {
            "LOADBAY_QUEUE_URL": f"sqlite:///{queue}",
            "LOADBAY_DATABASE_URL": f"{db.url}&application_name={application}",
            "LOADBAY_CHUNK_SIZE": "250",
            "LOADBAY_LEASE_SECONDS": "3",
            "LOADBAY_SWEEP_INTERVAL_SECONDS": "1",
            "LOADBAY_LOG_LEVEL": "INFO",
        },
    )
    # Chunks are under fire, not the plan: see the report on plan_task's attempts.
    wait_for(lambda: job_row(db, job_id).processed_chunks >= 2, 30, worker.tail)
    killer = BackendKiller(POSTGRES_URL, application, kills=6, every=0.05)
    killer.start()
    try:
        wait_done(db, [job_id], 50, lambda: f"killed {killer.killed}\n{worker.tail(6000)}")
    finally:
        killer.stop.set()
        killer.join(10)
    assert killer.error is None, killer.error
    assert killer.killed, "no session was caught inside a transaction: nothing was tested"
    assert_exact(db, job_id, rows, invalid)
    assert_records(db, rows - invalid)
    # A killed connection is a transient outage: the chunk is retried without counting an
    # attempt (DECISIONS, "Attempts"), so the retries show in the log, not in `attempts`.
    retried = [e for e in worker.events() if e["msg"] == "chunk failed" and e.get("transient")]
    with db.read() as session:
        retried += session.scalars(
            sa.select(ImportChunk.id).where(ImportChunk.job_id == job_id, ImportChunk.attempts > 1)
        ).all()
    assert retried, f"no chunk ran twice although {killer.killed} were killed"


def test_api_restarted_while_an_import_runs(
    procs: Procs, db: Database, auth: dict[str, str], catalog: dict[str, str], tmp_path: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    procs.env = {
        "LOADBAY_QUEUE_URL": f"sqlite:///{tmp_path / 'queue.db'}",
        "LOADBAY_DATABASE_URL": db.url,
        "LOADBAY_DATA_DIR": str(tmp_path / "data"),
        "LOADBAY_PUBLIC_URL": base,
        "LOADBAY_CHUNK_SIZE": "200",
        "LOADBAY_LOG_LEVEL": "INFO",
    }
    api = procs.loadbay("api", "serve", "--port", str(port), "--workers", "0")
    procs.worker("worker")
    wait_http(api, base)
    rows = 12_000
    content, invalid = outlet_csv(rows, invalid_every=250)
    with httpx.Client(base_url=f"{base}/api/v3", headers=auth, timeout=30) as client:
        answer = client.post(
            "/data/import",
            data={"dataTypeId": catalog["outlet"], "hubId": catalog["hub"]},
            files={"file": ("outlets.csv", content)},
        )
    assert answer.status_code == 200, answer.text
    job_id = answer.json()["data"]["_id"]
    wait_for(lambda: job_row(db, job_id).processed_chunks >= 3, 30, procs.logs)

    assert procs.stop(api, signal.SIGTERM, timeout=15) in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in api.text()
    down_at = job_row(db, job_id)
    assert down_at.phase != "done", "the job ended before the API went down"
    # The worker needs no API: the job moves on while none is running.
    wait_for(
        lambda: job_row(db, job_id).processed_chunks > down_at.processed_chunks, 30, procs.logs
    )

    again = procs.loadbay("api-again", "serve", "--port", str(port), "--workers", "0")
    wait_http(again, base)
    wait_done(db, [job_id], 50, procs.logs)
    with httpx.Client(base_url=f"{base}/api/v3", headers=auth, timeout=30) as client:
        job = client.get(f"/import-monitoring/{job_id}").json()["data"]
        listed = client.get("/import-monitoring").json()["data"]
        failed = client.get(job["fileFailedImported"])
    assert (job["status"], job["totalRows"]) == ("partially", rows), job_state(db, job_id)
    assert (job["totalValid"], job["totalInvalid"]) == (rows - invalid, invalid)
    assert [j["_id"] for j in listed["data"]] == [job_id]
    # The failed-rows file was written while the first API was gone; the new one serves it.
    assert failed.status_code == 200, failed.text
    assert len(failed.content.decode().strip().splitlines()) == 1 + invalid
    assert_exact(db, job_id, rows, invalid)


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's exit may never be reaped in a container)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_serve_stops_its_workers_on_sigterm(procs: Procs, tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    procs.env = {
        "LOADBAY_DATA_DIR": str(tmp_path / "data"),
        "LOADBAY_DATABASE_URL": "",
        "LOADBAY_QUEUE_URL": "",
        "LOADBAY_PUBLIC_URL": base,
    }
    api = procs.loadbay("api", "serve", "--port", str(port), "--workers", "2")
    wait_http(api, base)
    workers = wait_for(
        lambda: len(child_pids(api.popen.pid)) == 2 and child_pids(api.popen.pid), 30, api.tail
    )
    try:
        procs.stop(api, signal.SIGTERM, timeout=30)  # what `docker stop` or systemd sends
        wait_for(lambda: not any(_running(pid) for pid in workers), 5, "workers still running")
    finally:
        for pid in workers:  # never leave an orphan behind, whatever the outcome
            if _running(pid):
                os.kill(pid, signal.SIGKILL)
