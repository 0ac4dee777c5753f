"""Purge: jobs past retention go with their chunks, row issues and files; the clock is moved."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from loadbay.db import Database
from loadbay.ids import utcnow
from loadbay.imports import retention
from loadbay.imports.models import ImportChunk, ImportJob, ImportRowIssue
from loadbay.storage import LocalStorage, get_storage
from loadbay.worker.tasks import purge_imports_task
from tests.imports.conftest import csv_bytes


def _count(db: Database, model: type) -> int:
    with db.read() as session:
        return int(session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def _files(job_id: str, org: str) -> list[Path]:
    storage = get_storage()
    assert isinstance(storage, LocalStorage)
    folder = storage.path(f"{org}/imports/{job_id}/upload.csv").parent
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_previews_go_after_a_day_and_jobs_after_thirty(
    upload, app_client, auth, catalog, db, org_id
) -> None:
    content = csv_bytes([["Outlet Code", "Name"], ["1", "a"], ["2", ""]])
    job_id = upload(content).json()["data"]["_id"]
    preview = app_client.post(
        "/api/v3/import-jobs",
        headers=auth,
        data={"dataTypeId": catalog["outlet"], "hubId": catalog["hub"]},
        files={"file": ("p.csv", content)},
    ).json()["data"]["code"]
    assert len(_files(job_id, org_id)) >= 3  # upload, chunk, failed rows, not imported
    assert len(_files(preview, org_id)) == 2  # the upload and the whole-file check's chunk
    assert _count(db, ImportChunk) == 1 and _count(db, ImportRowIssue) == 1

    now = utcnow()
    nothing = retention.purge_imports(now)
    assert nothing == {"jobs": 0, "previews": 0, "chunks": 0, "issues": 0, "files": 0}

    day = retention.purge_imports(now + timedelta(hours=25))
    assert (day["previews"], day["jobs"], day["files"]) == (1, 0, 2)  # its upload and review chunk
    assert _files(preview, org_id) == []
    with db.read() as session:
        assert session.get(ImportJob, preview) is None
        assert session.get(ImportJob, job_id) is not None
    assert app_client.get(f"/api/v3/import-monitoring/{job_id}", headers=auth).status_code == 200

    month = retention.purge_imports(now + timedelta(days=29))
    assert month["jobs"] == 0

    gone = retention.purge_imports(now + timedelta(days=31))
    assert (gone["jobs"], gone["chunks"], gone["issues"]) == (1, 1, 1)
    assert gone["files"] >= 3
    assert _files(job_id, org_id) == []
    assert _count(db, ImportJob) == _count(db, ImportChunk) == _count(db, ImportRowIssue) == 0
    missing = app_client.get(f"/api/v3/import-monitoring/{job_id}", headers=auth)
    assert missing.status_code == 404 and missing.json()["failedCode"] == "import-004"


def test_only_what_is_past_retention_goes(upload, db, monkeypatch, worker_for) -> None:
    monkeypatch.setattr(retention, "BATCH", 2)  # several batches
    ids = [
        upload(csv_bytes([["Outlet Code", "Name"], [str(n), "a"]])).json()["data"]["_id"]
        for n in range(5)
    ]
    with db.write() as session:  # three jobs are old, two are new
        session.execute(
            sa.update(ImportJob)
            .where(ImportJob.id.in_(ids[3:]))
            .values(created_time=utcnow() + timedelta(days=10))
        )
    worker_for(retention_days=5)
    purged = retention.purge_imports(utcnow() + timedelta(days=6))
    assert (purged["jobs"], purged["chunks"]) == (3, 3)
    with db.read() as session:
        left = set(session.scalars(sa.select(ImportJob.id)))
    assert left == set(ids[3:])
    assert retention.purge_imports(utcnow() + timedelta(days=16))["jobs"] == 2


def test_the_purge_runs_hourly_from_the_queue(db) -> None:
    from loadbay.queue import huey

    def due(at: datetime) -> bool:
        task_class = purge_imports_task.task_class
        return any(isinstance(t, task_class) for t in huey.read_periodic(at))

    assert due(datetime(2024, 1, 1, 3, 17)) and due(datetime(2024, 1, 1, 4, 17))
    assert not due(datetime(2024, 1, 1, 3, 18))
    purge_imports_task.call_local()  # nothing to purge: it runs and leaves the data alone
