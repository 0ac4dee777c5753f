"""Counters that add up (issue 13 item 6; DECISIONS, Imports and Precedence 4, revised
2026-12-04): totals grow while the file is read and processed never passes them, a
cancelled job says the same in both views, and every `failed` carries `errorMessage`."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

from loadbay.auth import Principal
from loadbay.db import Database
from loadbay.imports import jobs
from loadbay.imports.models import ImportJob
from loadbay.imports.schemas import job_view, monitoring_record
from tests.conftest import AppFactory
from tests.imports.conftest import Uploader, csv_bytes

API = "/api/v3"


def _job(db: Database, code: str) -> ImportJob:
    with db.read() as session:
        job = session.get(ImportJob, code)
        assert job is not None
        return job


def test_totals_are_a_growing_estimate_while_the_plan_reads(
    upload_for: Callable[..., Uploader],
    db: Database,
    monkeypatch: Any,
    monitoring: Callable[[str], Any],
) -> None:
    """Seen from both views at every chunk: totals never 0 once chunks run, never
    shrinking, never below what was processed; exact when the plan ends."""
    from loadbay.imports import pipeline

    upload = upload_for(chunk_size=2)
    seen: list[tuple[str, int, int, int, int, int, int]] = []
    real_enqueue = pipeline.enqueue

    def observe(job_id: str) -> None:
        job = _job(db, job_id)
        record, view = monitoring_record(job, {}, None), job_view(job)
        seen.append(
            (
                job.phase,
                record["totalRows"],
                record["totalChunks"],
                record["processedChunks"],
                view["totalItems"],
                view["processedItems"],
                record["totalValid"] + record["totalInvalid"],
            )
        )

    def chunk_and_observe(name: str, *args: Any, **kwargs: Any) -> None:
        """The queue's seam, watched around each chunk (the queue runs tasks inline)."""
        from loadbay.imports.models import ImportChunk

        if name != "chunk":
            real_enqueue(name, *args, **kwargs)
            return
        with db.read() as session:
            chunk = session.get(ImportChunk, args[0])
            assert chunk is not None
            job_id = chunk.job_id
        observe(job_id)
        real_enqueue(name, *args, **kwargs)
        observe(job_id)

    monkeypatch.setattr(pipeline, "enqueue", chunk_and_observe)
    rows = [["Outlet Code", "Name"]] + [[f"R{n}", f"row {n}"] for n in range(11)]
    job_id = upload(csv_bytes(rows)).json()["data"]["_id"]

    assert any(phase == "planning" for phase, *_ in seen), seen
    for _phase, total_rows, total_chunks, done_chunks, items, done_items, counted in seen:
        assert total_rows > 0 and total_chunks > 0, seen
        assert done_chunks <= total_chunks and counted <= total_rows, seen
        assert done_items <= items and items == total_rows, seen
    for before, after in itertools.pairwise(seen):
        assert after[1] >= before[1] and after[2] >= before[2], seen
    final = monitoring(job_id)
    assert (final["totalRows"], final["totalChunks"], final["processedChunks"]) == (11, 6, 6)


def test_failed_status_always_carries_an_error_message(
    upload: Uploader, monitoring: Callable[[str], Any]
) -> None:
    rows = [["Outlet Code", "Name"], ["A1", ""], ["A2", ""]]
    record = monitoring(upload(csv_bytes(rows)).json()["data"]["_id"])
    assert record["status"] == "failed"
    assert record["errorMessage"] == "All 2 rows failed validation; see the failed rows file"
    one = monitoring(upload(csv_bytes([["Outlet Code", "Name"], ["A1", ""]])).json()["data"]["_id"])
    assert one["errorMessage"] == "The only row failed validation; see the failed rows file"


def test_total_items_is_filled_after_a_preview(
    app_client: TestClient, auth: dict[str, str], catalog: dict[str, str]
) -> None:
    rows = [["Outlet Code", "Name"]] + [[f"P{n}", "x"] for n in range(7)]
    response = app_client.post(
        f"{API}/import-jobs",
        headers=auth,
        data={"dataTypeId": catalog["outlet"], "hubId": catalog["hub"]},
        files={"file": ("outlets.csv", csv_bytes(rows))},
    )
    assert response.status_code == 201, response.text
    code = response.json()["data"]["code"]
    view = app_client.get(f"{API}/import-jobs/{code}", headers=auth).json()["data"]
    assert view["status"] == "Queued" and view["totalItems"] == 7


def test_a_cancelled_job_reads_the_same_in_both_views_and_is_failed_in_monitoring(
    app_for: AppFactory,
    auth: dict[str, str],
    catalog: dict[str, str],
    db: Database,
    monkeypatch: Any,
    org_id: str,
) -> None:
    from loadbay.imports import pipeline

    client = app_for(chunk_size=2)
    rows = [["Outlet Code", "Name"]] + [[f"R{n}", f"row {n}"] for n in range(10)]
    code = client.post(
        f"{API}/import-jobs",
        headers=auth,
        data={"dataTypeId": catalog["outlet"], "hubId": catalog["hub"]},
        files={"file": ("outlets.csv", csv_bytes(rows))},
    ).json()["data"]["code"]
    real_enqueue = pipeline.enqueue

    def chunk_then_cancel(name: str, *args: Any, **kwargs: Any) -> None:
        real_enqueue(name, *args, **kwargs)
        if name == "chunk" and kwargs.get("priority") == 0:  # cancelled after chunk 0
            with db.write() as session:
                jobs.cancel_job(session, Principal(org_id, "ops@acme.test", frozenset()), code)

    monkeypatch.setattr(pipeline, "enqueue", chunk_then_cancel)
    view = client.put(f"{API}/import-jobs/{code}", headers=auth, json={}).json()["data"]
    record = client.get(f"{API}/import-monitoring/{code}", headers=auth).json()["data"]

    assert view["status"] == "Cancelled"
    assert record["status"] == "failed"
    assert re.fullmatch(
        r"Cancelled by ops@acme\.test at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d", record["errorMessage"]
    ), record
    # one chunk of two rows was written, and both views say so
    assert (view["totalItems"], view["processedItems"], view["createdCount"]) == (2, 2, 2)
    assert (record["totalRows"], record["totalValid"], record["totalInvalid"]) == (2, 2, 0)
    assert (record["processedChunks"], record["totalChunks"]) == (1, 1)

    listed = client.get(f"{API}/import-monitoring?status=failed", headers=auth).json()
    assert [r["_id"] for r in listed["data"]["data"]] == [code]
    assert listed["data"]["data"][0]["status"] == "failed"
    with db.read() as session:  # the job itself keeps its own status
        assert session.scalar(sa.select(ImportJob.status).where(ImportJob.id == code)) == (
            "cancelled"
        )


def test_a_preview_cancelled_before_its_plan_counts_nothing_in_either_view(
    app_client: TestClient, auth: dict[str, str], catalog: dict[str, str]
) -> None:
    rows = [["Outlet Code", "Name"]] + [[f"P{n}", "x"] for n in range(5)]
    code = app_client.post(
        f"{API}/import-jobs",
        headers=auth,
        data={"dataTypeId": catalog["outlet"], "hubId": catalog["hub"]},
        files={"file": ("outlets.csv", csv_bytes(rows))},
    ).json()["data"]["code"]
    view = app_client.post(f"{API}/import-jobs/{code}/cancel", headers=auth).json()["data"]
    assert view["status"] == "Cancelled"
    assert (view["totalItems"], view["processedItems"]) == (0, 0)
