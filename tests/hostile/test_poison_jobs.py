"""Poison jobs end: a step that keeps failing, or whose worker keeps dying, fails its job
after `max_attempts` attempts with the last error, and is never handed out again. A job
can never stay `onprocess` forever: each test pins the longest it may take.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from loadbay.db import Database
from loadbay.ids import utcnow
from loadbay.imports import pipeline
from loadbay.imports.models import ImportChunk, ImportRowIssue
from loadbay.queue import huey
from loadbay.settings import get_settings
from loadbay.storage import get_storage
from loadbay.worker.sweeper import sweep
from tests.imports.conftest import Uploader
from tests.scale.conftest import Procs, job_row, outlet_csv, wait_for

pytestmark = pytest.mark.slow
LEASE = 2  # seconds, in the workers these tests start
SWEEP = 0.5


def _env(db: Database, queue: Path) -> dict[str, str]:
    return {
        "LOADBAY_QUEUE_URL": f"sqlite:///{queue}",
        "LOADBAY_DATABASE_URL": db.url,
        "LOADBAY_LEASE_SECONDS": str(LEASE),
        "LOADBAY_SWEEP_INTERVAL_SECONDS": str(SWEEP),
        "LOADBAY_CHUNK_SIZE": "200",
        "LOADBAY_LOG_LEVEL": "INFO",
    }


def _uploaded(upload: Uploader, content: bytes, queue: Path) -> str:
    from huey.storage import SqliteStorage

    saved = huey.storage, huey.immediate
    huey.immediate = False
    huey.storage = SqliteStorage(name="loadbay", filename=str(queue))
    try:
        response = upload(content)
    finally:
        huey.storage, huey.immediate = saved
    assert response.status_code == 200, response.text
    return str(response.json()["data"]["_id"])


def test_a_plan_that_always_raises_fails_the_job_after_max_attempts(
    procs: Procs, db: Database, upload: Uploader, tmp_path: Path
) -> None:
    queue = tmp_path / "queue.db"
    content, _ = outlet_csv(50)
    job_id = _uploaded(upload, content, queue)
    get_storage().delete(job_row(db, job_id).file_key)  # the stored upload is gone for good

    started = time.monotonic()
    worker = procs.worker("worker", _env(db, queue))
    limit = get_settings().max_attempts
    # Each attempt: a retry delay (2 s) or a lease plus a sweep; generous for a busy host.
    bound = limit * (LEASE + 2 + SWEEP) + 10
    wait_for(lambda: job_row(db, job_id).phase == "done", bound, worker.tail)
    took = time.monotonic() - started
    job = job_row(db, job_id)
    assert job.status == "failed"
    assert job.attempts == limit
    assert job.error_message is not None
    assert job.error_message.startswith(f"The import could not be planned after {limit} attempts")
    assert "FileNotFoundError" in job.error_message, job.error_message
    print(f"poison plan failed after {took:.1f} s")
    # never handed out again: a sweep long after finds nothing to do
    time.sleep(LEASE + 2 * SWEEP)
    assert job_row(db, job_id).phase == "done"
    assert sweep()["plans"] == 0


def test_a_plan_whose_worker_is_killed_every_time_fails_the_job(
    procs: Procs, db: Database, upload: Uploader, tmp_path: Path
) -> None:
    queue = tmp_path / "queue.db"
    content, _ = outlet_csv(40_000)
    job_id = _uploaded(upload, content, queue)
    limit = get_settings().max_attempts
    started = time.monotonic()
    kills = 0
    owners: list[str | None] = [None]
    while job_row(db, job_id).phase != "done":
        assert time.monotonic() - started < limit * (LEASE + SWEEP + 5) + 15, procs.logs()
        worker = procs.worker(f"worker{kills}", _env(db, queue))

        def claimed() -> bool:  # done, or planning under a claim the last kill did not end
            job = job_row(db, job_id)
            return job.phase == "done" or (
                job.phase == "planning" and job.lease_owner not in owners
            )

        wait_for(claimed, 30, procs.logs)
        job = job_row(db, job_id)
        if job.phase == "done":
            procs.stop(worker)
            break
        procs.stop(worker, signal.SIGKILL)
        owners.append(job.lease_owner)
        kills += 1
    took = time.monotonic() - started
    job = job_row(db, job_id)
    assert kills == limit, procs.logs()
    assert job.status == "failed"
    assert job.error_message == (
        f"The import could not be planned after {limit} attempts: the worker running it "
        "stopped before it finished (its lease ran out)"
    )
    with db.read() as session:
        pending = session.scalar(
            sa.select(sa.func.count())
            .select_from(ImportChunk)
            .where(ImportChunk.job_id == job_id, ImportChunk.state == "pending")
        )
    assert pending == 0
    print(f"plan killed {kills} times: failed after {took:.1f} s")


def test_a_chunk_out_of_attempts_fails_its_rows_and_names_the_error(
    db: Database, upload_for: Callable[..., Uploader]
) -> None:
    """The sweeper finds a chunk whose last attempt died with its worker: its rows are
    recorded as failed (not lost), the job ends naming why, and nothing runs it again."""
    upload = upload_for(chunk_size=200)
    content, _ = outlet_csv(600)
    saved = huey.immediate
    huey.immediate = False  # keep the chunks queued: nothing runs them here
    try:
        from huey.storage import MemoryStorage

        store, huey.storage = huey.storage, MemoryStorage("poison")
        response = upload(content)
        job_id = response.json()["data"]["_id"]
        pipeline.plan_job(job_id)
    finally:
        huey.immediate, huey.storage = saved, store
    limit = get_settings().max_attempts
    with db.write() as session:
        session.execute(
            sa.update(ImportChunk)
            .where(ImportChunk.job_id == job_id, ImportChunk.seq == 0)
            .values(
                attempts=limit,
                lease_owner="dead:1:x",
                lease_expires=utcnow() - timedelta(seconds=1),
                last_error="MemoryError: ",
            )
        )
        others = session.scalars(
            sa.select(ImportChunk.id).where(ImportChunk.job_id == job_id, ImportChunk.seq > 0)
        ).all()
    for chunk_id in others:  # the other chunks' workers did their part
        pipeline.run_chunk(chunk_id)
    counts = sweep()  # inline queue again: the finalize runs now
    assert counts["failed"] == 1
    job = job_row(db, job_id)
    assert (job.phase, job.status) == ("done", "partially")
    assert job.failed_count == 200 and job.created_count == 400
    assert job.error_message is not None
    assert job.error_message.startswith(f"Rows 2–201 were not imported after {limit} attempts")
    with db.read() as session:
        reasons = session.scalars(
            sa.select(ImportRowIssue.reasons).where(ImportRowIssue.job_id == job_id)
        ).all()
    assert len(reasons) == 200
    assert reasons[0][0]["message"] == "not imported: MemoryError: "


# ---- recovery in seconds: the default lease (12 s) and sweep (2 s) -------------------------


def _killed_then_finished(
    procs: Procs, db: Database, upload: Uploader, tmp_path: Path, *, mid: str
) -> tuple[float, float]:
    """Upload, start a worker, SIGKILL it mid-plan or mid-chunk, start a replacement at
    once (as `serve` does); answers the seconds from the kill to the takeover of the
    step the dead worker held, and to the job's end."""
    queue = tmp_path / "queue.db"
    rows = 60_000
    content, invalid = outlet_csv(rows, invalid_every=1000)
    job_id = _uploaded(upload, content, queue)
    env = {
        "LOADBAY_QUEUE_URL": f"sqlite:///{queue}",
        "LOADBAY_DATABASE_URL": db.url,
        # chunks of ~0.3 s, so the kill lands inside one, not between two
        "LOADBAY_CHUNK_SIZE": "500" if mid == "plan" else "3000",
        "LOADBAY_LOG_LEVEL": "INFO",
    }
    first = procs.worker("first", env)

    def in_place() -> bool:
        job = job_row(db, job_id)
        if mid == "plan":
            return job.phase == "planning" and job.lease_owner is not None
        if job.phase != "running" or job.processed_chunks < 3:
            return False
        with db.read() as session:  # the kill must catch a chunk under way
            return bool(
                session.scalar(
                    sa.select(sa.func.count())
                    .select_from(ImportChunk)
                    .where(
                        ImportChunk.job_id == job_id,
                        ImportChunk.state == "pending",
                        ImportChunk.lease_owner.is_not(None),
                    )
                )
            )

    wait_for(in_place, 60, procs.logs)
    procs.stop(first, signal.SIGKILL)
    killed = time.monotonic()
    at_kill = job_row(db, job_id)
    assert at_kill.phase != "done"
    with db.read() as session:
        held = session.scalars(
            sa.select(ImportChunk.id).where(
                ImportChunk.job_id == job_id, ImportChunk.lease_owner.is_not(None)
            )
        ).all()
    procs.worker("second", env)

    def taken_over() -> bool:
        if mid == "plan":
            job = job_row(db, job_id)
            return job.phase != "planning" or job.lease_owner not in (None, at_kill.lease_owner)
        with db.read() as session:
            return not session.scalar(
                sa.select(sa.func.count())
                .select_from(ImportChunk)
                .where(ImportChunk.id.in_(held), ImportChunk.attempts < 2)
            )

    assert held or mid == "plan"
    wait_for(taken_over, 30, procs.logs)
    takeover = time.monotonic() - killed
    wait_for(lambda: job_row(db, job_id).phase == "done", 30, procs.logs)
    took = time.monotonic() - killed
    from tests.scale.conftest import assert_exact, assert_records

    assert_exact(db, job_id, rows, invalid)
    assert_records(db, rows - invalid)
    return takeover, took


@pytest.mark.parametrize("mid", ["plan", "chunk"])
def test_a_worker_killed_mid_step_is_taken_over_within_seconds(
    procs: Procs, db: Database, upload: Uploader, tmp_path: Path, mid: str
) -> None:
    takeover, took = _killed_then_finished(procs, db, upload, tmp_path, mid=mid)
    print(f"killed mid-{mid}: taken over after {takeover:.1f} s, finished after {took:.1f} s")
    assert takeover < 16  # a lease (12 s) and a sweep (2 s), with a little slack
    assert took < 30
