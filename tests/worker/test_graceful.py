"""Graceful shutdown: on SIGTERM a worker takes no more work, hands back the step it
holds (uncounted) and exits within 10 s; a worker started in its place (a rolling
deploy) carries on at once, with no lease wait, and every row is counted once."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from loadbay.db import Database
from loadbay.imports.models import ImportChunk
from tests.hostile.test_poison_jobs import _uploaded
from tests.imports.conftest import Uploader
from tests.scale.conftest import Procs, assert_exact, assert_records, job_row, outlet_csv, wait_for

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("mid", ["plan", "chunk"])
def test_a_worker_stopped_mid_step_hands_it_back(
    procs: Procs, db: Database, upload: Uploader, tmp_path: Path, mid: str
) -> None:
    queue = tmp_path / "queue.db"
    rows = 60_000
    content, invalid = outlet_csv(rows, invalid_every=1000)
    job_id = _uploaded(upload, content, queue)
    env = {
        "LOADBAY_QUEUE_URL": f"sqlite:///{queue}",
        "LOADBAY_DATABASE_URL": db.url,
        "LOADBAY_CHUNK_SIZE": "500" if mid == "plan" else "3000",
        "LOADBAY_LOG_LEVEL": "INFO",
    }
    first = procs.worker("first", env)

    def held() -> bool:
        job = job_row(db, job_id)
        if mid == "plan":
            return job.phase == "planning" and job.lease_owner is not None
        with db.read() as session:
            return job.phase == "running" and bool(
                session.scalar(
                    sa.select(sa.func.count())
                    .select_from(ImportChunk)
                    .where(ImportChunk.job_id == job_id, ImportChunk.lease_owner.is_not(None))
                )
            )

    wait_for(held, 60, procs.logs)
    owner = job_row(db, job_id).lease_owner
    first.popen.send_signal(signal.SIGTERM)
    stopped = time.monotonic()
    code = first.popen.wait(timeout=15)
    exited = time.monotonic() - stopped
    assert code == 0, first.tail()
    assert exited < 10
    if mid == "plan":  # a plan is long: handed back; a chunk is short: finished or handed back
        assert "plan handed back" in first.text(), first.tail()
    with db.read() as session:  # nothing is left for a lease to run out on
        leased = session.scalar(
            sa.select(sa.func.count())
            .select_from(ImportChunk)
            .where(ImportChunk.job_id == job_id, ImportChunk.lease_owner.is_not(None))
        )
    assert leased == 0 and job_row(db, job_id).lease_owner is None

    before = job_row(db, job_id).processed_chunks
    procs.worker("second", env)
    started = time.monotonic()

    def carried_on() -> bool:  # the new worker works on what the old one gave back
        job = job_row(db, job_id)
        if mid == "plan":
            return job.phase != "planning" or job.lease_owner not in (None, owner)
        return job.processed_chunks > before

    wait_for(carried_on, 30, procs.logs)
    takeover = time.monotonic() - started
    wait_for(lambda: job_row(db, job_id).phase == "done", 60, procs.logs)
    took = time.monotonic() - stopped
    print(
        f"SIGTERM mid-{mid}: worker exited in {exited:.1f} s, the new one carried on after "
        f"{takeover:.1f} s, job done {took:.1f} s after the signal"
    )
    assert takeover < 6  # well under a lease (12 s): nobody waited for one to run out
    assert_exact(db, job_id, rows, invalid)
    assert_records(db, rows - invalid)
    with db.read() as session:
        most = session.scalar(
            sa.select(sa.func.max(ImportChunk.attempts)).where(ImportChunk.job_id == job_id)
        )
    assert most == 1  # a hand-back is not an attempt
