"""`rowsPerSecond` and `etaSeconds` while an import runs; left out before and after."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from loadbay.db import Database
from loadbay.ids import utcnow
from loadbay.imports.models import ImportJob
from tests.imports.conftest import csv_bytes


def _run_as_if_midway(db: Database, job_id: str, done: int, total: int, seconds: int) -> None:
    with db.write() as session:
        job = session.get(ImportJob, job_id)
        assert job is not None
        job.status, job.phase = "onprocess", "running"
        job.processed_rows, job.total_rows = done, total
        job.started_at = utcnow() - timedelta(seconds=seconds)
        job.processed_at = None


def test_a_running_job_shows_its_rate_and_time_left(
    upload: Any, monitoring: Any, app_client: Any, auth: dict[str, str], db: Database
) -> None:
    job_id = upload(csv_bytes([["Outlet Code", "Name"], ["A1", "One"]])).json()["data"]["_id"]
    _run_as_if_midway(db, job_id, done=2_000, total=10_000, seconds=20)

    record = monitoring(job_id)
    assert 95 <= record["rowsPerSecond"] <= 100  # 2,000 rows in ~20 s
    assert 80 <= record["etaSeconds"] <= 85  # 8,000 rows left at ~100/s
    view = app_client.get(f"/api/v3/import-jobs/{job_id}", headers=auth).json()["data"]
    assert view["status"] == "InProgress"
    assert 95 <= view["rowsPerSecond"] <= 100 and 80 <= view["etaSeconds"] <= 85


def test_a_running_job_with_no_row_done_has_a_rate_but_no_estimate(
    upload: Any, monitoring: Any, db: Database
) -> None:
    job_id = upload(csv_bytes([["Outlet Code", "Name"], ["A1", "One"]])).json()["data"]["_id"]
    _run_as_if_midway(db, job_id, done=0, total=10_000, seconds=5)
    record = monitoring(job_id)
    assert record["rowsPerSecond"] == 0
    assert "etaSeconds" not in record


def test_a_finished_job_shows_neither(
    upload: Any, monitoring: Any, app_client: Any, auth: dict[str, str]
) -> None:
    job_id = upload(csv_bytes([["Outlet Code", "Name"], ["A1", "One"]])).json()["data"]["_id"]
    record = monitoring(job_id)
    assert record["status"] == "success"
    assert "rowsPerSecond" not in record and "etaSeconds" not in record
    view = app_client.get(f"/api/v3/import-jobs/{job_id}", headers=auth).json()["data"]
    assert view["status"] == "Completed"
    assert "rowsPerSecond" not in view and "etaSeconds" not in view
