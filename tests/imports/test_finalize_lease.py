"""The finalize claim is renewed while the files of rows not imported are written, and a
finalize whose claim was taken over stops without touching the job."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

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
    """Read one failed row per batch, renew at every batch, run `after_first` after row 1."""
    monkeypatch.setattr(finalize, "ISSUE_BATCH", 1)
    monkeypatch.setattr(finalize, "renew_interval", lambda seconds: 0.0)
    real = finalize._issues
    seen: list[int] = []

    def issues(job_id: str, outcomes: tuple[str, ...], claim: Any) -> Iterator[Any]:
        for issue in real(job_id, outcomes, claim):
            seen.append(issue.row_number)
            yield issue
            if len(seen) == 1:
                after_first(job_id)

    monkeypatch.setattr(finalize, "_issues", issues)
    return seen


def test_finalize_renews_its_lease_while_writing(
    dead_finalize: str, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    leases: list[Any] = []

    def run_out(job_id: str) -> None:  # the lease is about to run out after the first batch
        _set(db, job_id, lease_expires=utcnow() - timedelta(seconds=1))

    seen = _during_issues(monkeypatch, run_out)
    real_renew = finalize._Claim.renew

    def renew(self: Any) -> None:
        real_renew(self)
        leases.append(_job(db, self.job_id).lease_expires)

    monkeypatch.setattr(finalize._Claim, "renew", renew)
    finalize.finalize_job(dead_finalize)
    assert seen[:3] == [2, 3, 4]
    assert len(leases) > 3 and all(lease > utcnow() for lease in leases)
    job = _job(db, dead_finalize)
    assert (job.phase, job.status, job.lease_owner) == ("done", "failed", None)


def test_finalize_whose_lease_was_taken_over_stops(
    dead_finalize: str, db: Database, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    before = _job(db, dead_finalize)

    def take_over(job_id: str) -> None:  # the sweeper gave the job to another worker
        _set(db, job_id, lease_owner="newer", lease_expires=utcnow() + timedelta(minutes=2))

    seen = _during_issues(monkeypatch, take_over)
    finalize.finalize_job(dead_finalize)
    assert seen == [2]  # the write stopped at the next batch
    job = _job(db, dead_finalize)
    assert (job.phase, job.lease_owner) == ("finalizing", "newer")
    assert job.processed_at == before.processed_at
    assert any("lease lost" in r.getMessage() for r in caplog.records)
    with db.read() as session:
        assert (
            session.scalar(sa.select(jobs.c.phase).where(jobs.c.id == dead_finalize))
            == "finalizing"
        )
