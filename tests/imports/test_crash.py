"""A worker killed with SIGKILL in the middle of a job: a new worker finishes it exactly."""

from __future__ import annotations

import signal
import time

import pytest
import sqlalchemy as sa

from loadbay.catalog.models import Record
from loadbay.db import Database
from loadbay.imports.models import ImportChunk, ImportJob
from tests.conftest import start_worker
from tests.imports.conftest import csv_bytes

pytestmark = pytest.mark.slow


def _job(db: Database, job_id: str) -> ImportJob:
    with db.read() as session:
        job = session.get(ImportJob, job_id)
        assert job is not None
        return job


def _state(db: Database, job_id: str) -> str:
    job = _job(db, job_id)
    with db.read() as session:
        chunks = session.execute(
            sa.select(ImportChunk.seq, ImportChunk.state, ImportChunk.lease_owner, ImportChunk.lease_expires)
            .where(ImportChunk.job_id == job_id, ImportChunk.state != "done")
        ).all()  # fmt: skip
    return f"job {job.phase} {job.processed_chunks}/{job.total_chunks} lease={job.lease_expires}; open chunks {chunks}"


def test_sigkill_mid_job_then_new_worker_gives_exact_counts(
    real_queue, upload, db, tmp_path
) -> None:
    rows = 20_000
    content = csv_bytes(
        [["Outlet Code", "Name"], *[[f"C{i:06d}", f"Outlet {i}"] for i in range(rows)]]
    )
    response = upload(content)
    assert response.status_code == 200, response.text
    job_id = response.json()["data"]["_id"]
    assert _job(db, job_id).phase == "queued"  # nothing runs until a worker does

    first = start_worker(real_queue, tmp_path / "first.log")
    deadline = time.monotonic() + 60
    while _job(db, job_id).processed_chunks < 15:
        assert time.monotonic() < deadline, (tmp_path / "first.log").read_text()
        time.sleep(0.02)
    first.send_signal(signal.SIGKILL)
    first.wait()
    killed_at = _job(db, job_id)
    assert killed_at.phase != "done"

    time.sleep(2.5)  # let the dead worker's leases expire
    second = start_worker(real_queue, tmp_path / "second.log")
    try:
        deadline = time.monotonic() + 40
        while _job(db, job_id).phase != "done":
            assert second.poll() is None, (tmp_path / "second.log").read_text()
            assert time.monotonic() < deadline, (
                _state(db, job_id) + (tmp_path / "second.log").read_text()[-3000:]
            )
            time.sleep(0.1)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    job = _job(db, job_id)
    assert job.status == "success"
    assert (job.total_rows, job.created_count, job.updated_count, job.failed_count) == (
        rows,
        rows,
        0,
        0,
    )
    assert job.total_chunks == job.processed_chunks == rows // 200
    with db.read() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Record)) == rows
        assert session.scalar(sa.select(sa.func.count(sa.distinct(Record.data_id)))) == rows
        states = session.execute(
            sa.select(ImportChunk.state, sa.func.count()).where(ImportChunk.job_id == job_id)
            .group_by(ImportChunk.state)
        ).all()  # fmt: skip
    assert states == [("done", rows // 200)]
