"""Huey on Redis: chunks of one import run on several `loadbay worker` processes, and the
API runs alone (`serve --workers 0`) with the work done wherever a worker runs."""

from __future__ import annotations

import collections
import signal
import time
from pathlib import Path

import httpx
import pytest

from loadbay.db import Database
from loadbay.imports.pipeline import plan_job
from loadbay.settings import get_settings
from tests.imports.conftest import Uploader
from tests.scale.conftest import (
    Procs,
    SwappedQueue,
    assert_exact,
    assert_records,
    child_pids,
    free_port,
    job_row,
    outlet_csv,
    wait_done,
    wait_http,
)

pytestmark = [pytest.mark.redis, pytest.mark.slow]


def test_two_workers_share_one_import_and_finalize_once(
    redis_queue: SwappedQueue,
    procs: Procs,
    db: Database,
    upload: Uploader,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rows, size = 20_000, 500
    content, invalid = outlet_csv(rows, invalid_every=400)
    response = upload(content)
    assert response.status_code == 200, response.text
    job_id = response.json()["data"]["_id"]
    # Plan here, before any worker runs: all 40 chunks wait in Redis, so both workers start on
    # one backlog (a worker that plans lets the other take every chunk as it is cut).
    with monkeypatch.context() as patch:
        patch.setenv("LOADBAY_CHUNK_SIZE", str(size))
        get_settings.cache_clear()
        plan_job(job_id)
    get_settings.cache_clear()
    assert redis_queue.pending() == 1 + rows // size  # the API's plan task, then the chunks
    env = {
        "LOADBAY_QUEUE_URL": redis_queue.url,
        "LOADBAY_DATABASE_URL": db.url,
        "LOADBAY_CHUNK_SIZE": str(size),
        "LOADBAY_LOG_LEVEL": "INFO",
    }
    workers = [procs.worker(f"worker{i}", env) for i in (1, 2)]

    wait_done(db, [job_id], 50, procs.logs)

    assert_exact(db, job_id, rows, invalid)
    assert job_row(db, job_id).total_chunks == rows // size
    assert_records(db, rows - invalid)
    for w in workers:  # a worker logs after it commits: read the logs once it has exited
        assert procs.stop(w) == 0, w.tail()
    done_by = collections.Counter[str]()
    finalized = []
    for w in workers:
        for event in w.events():
            if event.get("job") != job_id:
                continue
            if event["msg"] == "chunk done":
                done_by[w.name] += 1
            elif event["msg"] == "job finalized":
                finalized.append(w.name)
    assert sum(done_by.values()) == rows // size, done_by
    assert set(done_by) == {"worker1", "worker2"}, f"one worker did everything: {done_by}"
    assert len(finalized) == 1, finalized
    assert redis_queue.pending() == 0


def test_api_alone_queues_and_a_separate_worker_runs_the_job(
    redis_queue: SwappedQueue,
    procs: Procs,
    db: Database,
    auth: dict[str, str],
    catalog: dict[str, str],
    tmp_path: Path,
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    procs.env = {
        "LOADBAY_QUEUE_URL": redis_queue.url,
        "LOADBAY_DATABASE_URL": db.url,
        "LOADBAY_DATA_DIR": str(tmp_path / "data"),
        "LOADBAY_PUBLIC_URL": base,
    }
    api = procs.loadbay("api", "serve", "--port", str(port), "--workers", "0")
    wait_http(api, base)
    assert child_pids(api.popen.pid) == []  # no worker beside the API

    content, _ = outlet_csv(300)
    with httpx.Client(base_url=f"{base}/api/v3", headers=auth, timeout=30) as client:
        answer = client.post(
            "/data/import",
            data={"dataTypeId": catalog["outlet"], "hubId": catalog["hub"]},
            files={"file": ("outlets.csv", content)},
        )
        assert answer.status_code == 200, answer.text
        job_id = answer.json()["data"]["_id"]
        time.sleep(1.5)
        # Nobody consumes the queue: the plan task waits in Redis and the job stays queued.
        assert redis_queue.pending() == 1
        queued = client.get(f"/import-monitoring/{job_id}").json()["data"]
        assert queued["status"] == "onprocess" and queued["totalRows"] == 0
        assert job_row(db, job_id).phase == "queued"
        assert client.get("/import-monitoring").json()["data"]["total"] == 1
        assert "loadbay_queue_depth 1" in httpx.get(f"{base}/metrics").text

        procs.worker("worker")
        wait_done(db, [job_id], 30, procs.logs)
        done = client.get(f"/import-monitoring/{job_id}").json()["data"]
    assert (done["status"], done["totalRows"], done["totalValid"]) == ("success", 300, 300)
    assert_exact(db, job_id, 300)
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status tells why.
    assert procs.stop(api) in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in api.text()
