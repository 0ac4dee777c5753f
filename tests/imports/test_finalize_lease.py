"""The finalize claim is renewed while the files of rows not imported are written, and a
finalize whose claim was taken over stops without touching the job."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from loadbay.db import Database, table_of
from loadbay.ids import utcnow
from loadbay.imports import finalize
from loadbay.imports.models import ImportJob
from tests.imports.conftest import csv_bytes

jobs = table_of(ImportJob)
HEADER = ["Outlet Code", "Name"]


def _job(db: Database, job_id: str) -> ImportJob:
    with db.read() as session:
        job = session.get(ImportJob, job_id)
        assert job is not None
        session.expunge(job)
        return job


def _set(db: Database, job_id: str, **values: Any) -> None:
    with db.write() as session:
        session.execute(jobs.update().where(jobs.c.id == job_id).values(**values))


@pytest.fixture
def dead_finalize(upload: Any, monitoring: Any, db: Database) -> str:
    """A job with three failed rows whose finalizer died mid-way (expired lease)."""
    rows = [[f"K{i}", ""] for i in range(3)]  # Name is required: every row fails
    job_id: str = upload(csv_bytes([HEADER, *rows])).json()["data"]["_id"]
    assert monitoring(job_id)["status"] == "failed"
    _set(
        db,
        job_id,
        phase="finalizing",
        lease_owner="dead",
        lease_expires=utcnow() - timedelta(seconds=1),
    )
    return job_id


def _during_issues(monkeypatch: pytest.MonkeyPatch, after_first: Any) -> list[int]:
    """Read one failed row per batch and run `after_first` after the first one."""
    monkeypatch.setattr(finalize, "ISSUE_BATCH", 1)
    real = finalize._issues
    seen: list[int] = []

    def issues(job_id: str, outcomes: tuple[str, ...], beat: Any) -> Iterator[Any]:
        for issue in real(job_id, outcomes, beat):
            seen.append(issue.row_number)
            yield issue
            if len(seen) == 1:
                after_first(job_id)

    monkeypatch.setattr(finalize, "_issues", issues)
    return seen


def test_finalize_renews_its_lease_while_writing(
    dead_finalize: str, db: Database, monkeypatch: pytest.MonkeyPatch, worker_for: Any
) -> None:
    worker_for(lease_seconds=1)
    leases: list[Any] = []

    def slow_step(job_id: str) -> None:  # a step longer than the whole lease (a slow store)
        time.sleep(1.6)
        job = _job(db, job_id)
        leases.append((job.lease_owner, job.lease_expires > utcnow()))

    seen = _during_issues(monkeypatch, slow_step)
    finalize.finalize_job(dead_finalize)
    assert seen[:3] == [2, 3, 4]
    [(owner, fresh)] = leases
    assert owner not in (None, "dead") and fresh  # renewed meanwhile by this finalize
    job = _job(db, dead_finalize)
    assert (job.phase, job.status, job.lease_owner) == ("done", "failed", None)


def test_finalize_whose_lease_was_taken_over_stops(
    dead_finalize: str,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
    caplog: Any,
    worker_for: Any,
) -> None:
    worker_for(lease_seconds=1)
    before = _job(db, dead_finalize)

    def take_over(job_id: str) -> None:  # the sweeper gave the job to another worker
        _set(db, job_id, lease_owner="newer", lease_expires=utcnow() + timedelta(minutes=2))
        time.sleep(0.6)  # a renewal (every quarter of the lease) finds it gone

    seen = _during_issues(monkeypatch, take_over)
    finalize.finalize_job(dead_finalize)
    assert seen == [2]  # the write stopped at the next batch
    job = _job(db, dead_finalize)
    assert (job.phase, job.lease_owner) == ("finalizing", "newer")
    assert job.processed_at == before.processed_at
    assert any("lease lost" in r.getMessage() for r in caplog.records)
