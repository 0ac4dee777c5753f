"""Dead workers are noticed and replaced: `serve` restarts a worker that died, workers
publish a heartbeat, and /readyz answers 503 naming why when no worker is alive or the
queue is not moving (/healthz stays the liveness probe: 200 while the API answers)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from loadbay.db import Database
from loadbay.heartbeats import WorkerBeat, not_ready
from loadbay.ids import utcnow
from loadbay.settings import get_settings
from tests.scale.conftest import Procs, child_pids, free_port, wait_for, wait_http


def _workers(serve_pid: int) -> list[int]:
    found = []
    for pid in child_pids(serve_pid):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"worker" in f.read():
                    found.append(pid)
        except OSError:
            continue
    return found


def _serve(procs: Procs, db: Database, tmp_path: Path, workers: int) -> str:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    procs.env = {
        "LOADBAY_QUEUE_URL": f"sqlite:///{tmp_path / 'queue.db'}",
        "LOADBAY_DATABASE_URL": db.url,
        "LOADBAY_DATA_DIR": str(tmp_path / "data"),
        "LOADBAY_PUBLIC_URL": base,
        "LOADBAY_WORKER_HEARTBEAT_SECONDS": "0.5",
        "LOADBAY_LOG_LEVEL": "INFO",
    }
    api = procs.loadbay("api", "serve", "--port", str(port), "--workers", str(workers))
    wait_http(api, base)
    return base


@pytest.mark.slow
def test_serve_restarts_a_worker_that_died(procs: Procs, db: Database, tmp_path: Path) -> None:
    base = _serve(procs, db, tmp_path, workers=1)
    api = procs.started[0]
    wait_for(lambda: httpx.get(f"{base}/readyz").status_code == 200, 30, procs.logs)
    first = wait_for(lambda: _workers(api.popen.pid), 10, procs.logs)
    assert len(first) == 1
    os.kill(first[0], 9)  # SIGKILL: what an out-of-memory kill or a native crash looks like

    def replaced() -> list[int]:
        now = _workers(api.popen.pid)
        return [p for p in now if p not in first]

    again = wait_for(replaced, 10, procs.logs)
    assert len(again) == 1 and len(_workers(api.popen.pid)) == 1
    assert httpx.get(f"{base}/healthz").status_code == 200  # the API never went down
    wait_for(lambda: httpx.get(f"{base}/readyz").status_code == 200, 10, procs.logs)
    assert "worker died; starting another" in api.text()


@pytest.mark.slow
def test_readyz_without_workers_is_503_naming_why(
    procs: Procs, db: Database, tmp_path: Path
) -> None:
    base = _serve(procs, db, tmp_path, workers=0)
    assert httpx.get(f"{base}/healthz").status_code == 200  # alive, but not ready
    answer = httpx.get(f"{base}/readyz")
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "5"
    body = answer.json()
    assert body["status"] is False and body["failedCode"] == "server-036"
    assert body["message"].startswith("Not ready: no worker alive"), body


def _beat(db: Database, **values: Any) -> None:
    now = utcnow()
    with db.write() as session:
        session.add(
            WorkerBeat(id="host:1", started_at=now - timedelta(hours=1), last_seen=now, **values)
        )


def test_a_queue_that_does_not_move_is_not_ready(sqlite_db: Database) -> None:
    settings = get_settings().model_copy(update={"queue_stall_seconds": 60})
    assert not_ready(sqlite_db, settings, waiting=3) == (
        "no worker alive: none has reported in the last 15 s"
    )
    _beat(sqlite_db, last_task_at=utcnow() - timedelta(seconds=300))
    assert not_ready(sqlite_db, settings, waiting=0) is None  # idle, nothing waits: fine
    reason = not_ready(sqlite_db, settings, waiting=3)
    assert reason is not None and reason.startswith("queue not moving: 3 tasks waiting")
    assert not_ready(sqlite_db, settings, waiting=-1) == "queue unreachable"


def test_a_worker_that_started_a_task_recently_is_ready(sqlite_db: Database) -> None:
    settings = get_settings().model_copy(update={"queue_stall_seconds": 60})
    _beat(sqlite_db, last_task_at=utcnow() - timedelta(seconds=5))
    assert not_ready(sqlite_db, settings, waiting=3) is None
