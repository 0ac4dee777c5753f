"""Undo an import (issue 13 item 5): created records deleted, updated ones restored,
records changed since the import left as they are and listed; on every engine."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from loadbay.catalog.models import Record, Task
from loadbay.db import Database
from loadbay.ids import utcnow
from loadbay.imports.models import ImportBeforeImage, ImportJob, ImportRevertConflict
from loadbay.imports.retention import purge_imports
from tests.conftest import start_worker
from tests.imports.conftest import Uploader, csv_bytes

API = "/api/v3"
HEAD = ["Outlet Code", "Name"]


def _records(db: Database) -> dict[str, tuple[str, str | None]]:
    with db.read() as session:
        return {
            r.data_id: (r.data.get("name"), r.last_import_id)
            for r in session.scalars(sa.select(Record))
        }


def _import(upload: Uploader, monitoring: Callable[[str], Any], rows: list[list[Any]]) -> str:
    job_id = str(upload(csv_bytes([HEAD, *rows])).json()["data"]["_id"])
    assert monitoring(job_id)["status"] == "success", monitoring(job_id)
    return job_id


def test_revert_restores_updates_deletes_creations_and_leaves_later_edits(
    upload: Uploader,
    monitoring: Callable[[str], Any],
    app_client: TestClient,
    auth: dict[str, str],
    catalog: dict[str, str],
    db: Database,
) -> None:
    first = _import(upload, monitoring, [["R1", "one"], ["R2", "two"], ["R3", "three"]])
    second = _import(
        upload, monitoring, [["R1", "one v2"], ["R2", "two v2"], ["R4", "four"], ["R5", "five"]]
    )
    assert _records(db) == {
        "R1": ("one v2", second),
        "R2": ("two v2", second),
        "R3": ("three", first),
        "R4": ("four", second),
        "R5": ("five", second),
    }  # fmt: skip  (every record remembers the import that last wrote it)
    # Edited after the import through the API: one it updated, one it created.
    edits = [
        {"dataId": key, "dataTypeId": catalog["outlet"], "hubId": catalog["hub"], "name": name}
        for key, name in (("R2", "two by hand"), ("R5", "five by hand"))
    ]
    edited = app_client.post(f"{API}/data/bulk/upsert", json={"data": edits}, headers=auth)
    assert edited.status_code == 200 and edited.json()["success"] == 2, edited.text

    answer = app_client.post(f"{API}/import-jobs/{second}/revert", headers=auth)
    assert answer.status_code == 202, answer.text
    queued = answer.json()["data"]
    assert queued["code"] == second and queued["status"] == "Completed"
    assert queued["revertStatus"] == "Queued" and queued["revertedBy"] == "ops@acme.test"

    assert _records(db) == {
        "R1": ("one", first),  # restored, and written last by the first import again
        "R2": ("two by hand", second),  # changed since: left as it is
        "R3": ("three", first),  # not touched by the reverted import
        "R5": ("five by hand", second),  # created by it, but changed since: kept
    }  # R4, created by the reverted import, is gone
    view = app_client.get(f"{API}/import-jobs/{second}", headers=auth).json()["data"]
    assert view["status"] == "Completed"  # the import's own status does not change
    assert (view["revertStatus"], view["revertedCount"], view["revertSkipped"]) == ("Done", 2, 2)
    assert view["revertedAt"].endswith("Z")
    record = monitoring(second)
    assert record["status"] == "success" and record["revertStatus"] == "Done"
    assert (record["revertedCount"], record["revertSkipped"]) == (2, 2)
    assert "revertStatus" not in monitoring(first)

    listed = app_client.get(
        f"{API}/import-jobs/{second}/revert-conflicts?limit=1", headers=auth
    ).json()["data"]
    assert listed["total"] == 2 and len(listed["data"]) == 1
    page2 = app_client.get(
        f"{API}/import-jobs/{second}/revert-conflicts?limit=1&page=2", headers=auth
    ).json()["data"]
    with db.read() as session:
        ids = {r.data_id: r.id for r in session.scalars(sa.select(Record))}
    items = {i["_id"]: i for i in listed["data"] + page2["data"]}
    assert items[ids["R2"]]["action"] == "restore" and items[ids["R2"]]["type"] == "record"
    assert items[ids["R5"]]["action"] == "delete"
    assert "changed after this import" in items[ids["R5"]]["reason"]

    again = app_client.post(f"{API}/import-jobs/{second}/revert", headers=auth)
    assert again.status_code == 409 and again.json()["failedCode"] == "import-032"


def test_revert_needs_a_finished_import_and_the_import_permission(
    upload: Uploader,
    monitoring: Callable[[str], Any],
    app_client: TestClient,
    auth: dict[str, str],
    token_for: Callable[..., str],
    db: Database,
) -> None:
    job = _import(upload, monitoring, [["R1", "one"]])
    viewer = {"Authorization": f"Bearer {token_for('acme', 'viewer@acme.test', 'export')}"}
    refused = app_client.post(f"{API}/import-jobs/{job}/revert", headers=viewer)
    assert refused.status_code == 403
    with db.write() as session:
        session.execute(sa.update(ImportJob).values(phase="running", status="onprocess"))
    early = app_client.post(f"{API}/import-jobs/{job}/revert", headers=auth)
    assert early.status_code == 409 and early.json()["failedCode"] == "import-032"
    missing = app_client.post(f"{API}/import-jobs/{'0' * 24}/revert", headers=auth)
    assert missing.status_code == 404


def test_revert_a_task_import_and_purge_keeps_images_as_long_as_the_job(
    upload: Uploader,
    monitoring: Callable[[str], Any],
    app_client: TestClient,
    auth: dict[str, str],
    db: Database,
) -> None:
    rows = [["Order Number", "Weight"], ["SO-1", "1"], ["SO-2", "2"]]
    job = upload(csv_bytes(rows), path=f"{API}/tasks/import").json()["data"]["_id"]
    assert monitoring(job)["status"] == "success"
    # matched on the order number: an update of SO-1, a new SO-3
    update = upload(
        csv_bytes([["Order Number", "Weight"], ["SO-1", "10"], ["SO-3", "3"]]),
        path=f"{API}/tasks/import",
        matchField="orderNumber",
    ).json()["data"]["_id"]
    assert monitoring(update)["status"] == "success"
    with db.read() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Task)) == 3
    assert app_client.post(f"{API}/import-jobs/{update}/revert", headers=auth).status_code == 202
    with db.read() as session:
        left = {t.data["orderNumber"]: t for t in session.scalars(sa.select(Task))}
    assert set(left) == {"SO-1", "SO-2"}
    assert left["SO-1"].data["weight"] == 1 and left["SO-1"].last_import_id == job

    purge_imports(utcnow() + timedelta(days=400))
    with db.read() as session:
        for table in (ImportBeforeImage, ImportRevertConflict, ImportJob):
            assert session.scalar(sa.select(sa.func.count()).select_from(table)) == 0


def test_a_finished_revert_sends_import_reverted(
    upload: Uploader,
    monitoring: Callable[[str], Any],
    app_client: TestClient,
    auth: dict[str, str],
    org_id: str,
    db: Database,
) -> None:
    import orjson

    from loadbay.webhooks.models import WebhookDelivery, WebhookEndpoint

    job = _import(upload, monitoring, [["R1", "one"]])
    with db.write() as session:
        session.add(
            WebhookEndpoint(
                organization_id=org_id,
                url="http://127.0.0.1:9/hook",
                events=["import.reverted"],
                secret="s" * 40,
            )
        )
    assert app_client.post(f"{API}/import-jobs/{job}/revert", headers=auth).status_code == 202
    with db.read() as session:
        sent = list(session.scalars(sa.select(WebhookDelivery)))
    assert [d.event_type for d in sent] == ["import.reverted"]
    data = orjson.loads(sent[0].body)["data"]
    assert data["_id"] == job and data["revertStatus"] == "Done" and data["revertedCount"] == 1


@pytest.mark.slow
def test_a_worker_process_reverts_a_many_chunk_import(
    real_queue: dict[str, str],
    upload: Uploader,
    app_client: TestClient,
    auth: dict[str, str],
    db: Database,
    tmp_path: Path,
) -> None:
    """Through the real queue: the import (200-row chunks) and then its revert, run by
    a worker process, one chunk's image per transaction."""
    rows = 2_000
    content = csv_bytes([HEAD, *[[f"W{i:05d}", f"Outlet {i}"] for i in range(rows)]])
    job_id = upload(content).json()["data"]["_id"]
    worker = start_worker(real_queue, tmp_path / "worker.log")
    try:
        deadline = time.monotonic() + 60

        def job() -> ImportJob:
            with db.read() as session:
                found = session.get(ImportJob, job_id)
                assert found is not None
                return found

        while job().phase != "done":
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()[-3000:]
            time.sleep(0.1)
        with db.read() as session:
            images = session.scalar(sa.select(sa.func.count()).select_from(ImportBeforeImage))
        assert images == rows // 200
        answer = app_client.post(f"{API}/import-jobs/{job_id}/revert", headers=auth)
        assert answer.status_code == 202 and answer.json()["data"]["revertStatus"] == "Queued"
        while job().revert_status != "Done":
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()[-3000:]
            time.sleep(0.1)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    assert (job().reverted_count, job().revert_skipped, job().status) == (rows, 0, "success")
    assert _records(db) == {}
