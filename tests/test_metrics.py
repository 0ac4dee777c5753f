"""GET /metrics after a real import: jobs by type and status, rows by outcome, the chunk
duration histogram, the queue depth, and chunks the sweeper re-enqueued.

The queue is a plain in-memory Huey that this test drains by hand, so it can stop between
the plan and the chunks, expire a lease and sweep, the way a dead worker would leave things.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from loadbay.db import Database
from loadbay.ids import utcnow
from loadbay.imports.models import ImportChunk
from loadbay.queue import huey
from loadbay.settings import get_settings
from tests.imports.conftest import Uploader, catalog, csv_bytes, org_id, upload  # noqa: F401

Sample = tuple[str, frozenset[tuple[str, str]]]
LINE = re.compile(r"^([a-z_]+)(?:\{(.*)\})? (\S+)$")


def parse(text: str) -> dict[Sample, float]:
    """Prometheus text format, strictly: every sample line must parse, none twice."""
    samples: dict[Sample, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = LINE.match(line)
        assert match, f"not a sample line: {line!r}"
        name, labels, value = match.groups()
        pairs = frozenset(re.findall(r'([a-z_]+)="([^"]*)"', labels or ""))
        key = (name, pairs)
        assert key not in samples, f"sample twice: {line!r}"
        samples[key] = float(value)
    return samples


def sample(samples: dict[Sample, float], name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


@pytest.fixture
def manual_queue(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tasks wait in memory until `drain()`; chunks of 100 rows."""
    monkeypatch.setenv("LOADBAY_CHUNK_SIZE", "100")
    get_settings.cache_clear()
    saved = huey.storage, huey.immediate
    huey.immediate = False  # a fresh in-memory queue that nothing consumes
    try:
        yield
    finally:
        huey.storage, huey.immediate = saved
        monkeypatch.undo()
        get_settings.cache_clear()


def run_next() -> bool:
    task = huey.dequeue()
    if task is None:
        return False
    huey.execute(task)
    return True


def drain() -> int:
    ran = 0
    while run_next():
        ran += 1
    return ran


def test_metrics_after_an_import_with_failed_rows_and_a_swept_chunk(
    manual_queue: None,
    upload: Uploader,  # noqa: F811 (the fixture imported above)
    app_client: TestClient,
    db: Database,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    from loadbay.worker.sweeper import sweep

    rows = [["Outlet Code", "Name"]]
    rows += [[f"M{i:04d}", "" if i % 50 == 7 else f"Outlet {i}"] for i in range(450)]
    response = upload(csv_bytes(rows))
    assert response.status_code == 200, response.text
    job_id = response.json()["data"]["_id"]
    assert huey.pending_count() == 1  # the plan, waiting

    assert run_next()  # plan: five chunks recorded and queued
    assert huey.pending_count() == 5
    with db.write() as session:  # chunk 2's worker "died": its lease ran out
        session.execute(
            sa.update(ImportChunk)
            .where(ImportChunk.job_id == job_id, ImportChunk.seq == 2)
            .values(lease_owner="gone:1", lease_expires=utcnow() - timedelta(seconds=1))
        )
    assert sweep() == {"plans": 0, "chunks": 1, "finalizes": 0, "exports": 0, "failed": 0}
    assert sweep() == {
        "plans": 0,
        "chunks": 0,
        "finalizes": 0,
        "exports": 0,
        "failed": 0,
    }  # its lease is fresh again

    before = parse(app_client.get("/metrics").text)
    assert sample(before, "loadbay_import_jobs", type="datasource", status="onprocess") == 1
    assert sample(before, "loadbay_queue_depth") == 6  # five chunks and the re-enqueued one
    assert sample(before, "loadbay_chunks_pending") == 5
    assert sample(before, "loadbay_chunks_requeued_total") == 1
    assert sample(before, "loadbay_chunk_duration_seconds_count") == 0

    assert drain() == 7  # six chunk messages (one a no-op duplicate) and the finalize
    answer = app_client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = answer.text
    assert 'loadbay_import_jobs{status="partially",type="datasource"} 1\n' in text
    assert "# TYPE loadbay_chunk_duration_seconds histogram" in text
    after = parse(text)
    assert {k: v for k, v in after.items() if k[0] == "loadbay_import_jobs"} == {
        ("loadbay_import_jobs", frozenset({("type", "datasource"), ("status", "partially")})): 1
    }
    outcomes = {
        outcome: sample(after, "loadbay_import_rows_total", outcome=outcome)
        for outcome in ("created", "updated", "skipped", "failed")
    }
    assert outcomes == {"created": 441, "updated": 0, "skipped": 0, "failed": 9}
    buckets = sorted(
        (float(dict(labels)["le"]), value)
        for (name, labels), value in after.items()
        if name == "loadbay_chunk_duration_seconds_bucket"
    )
    assert buckets[-1] == (float("inf"), 5)
    counts = [value for _, value in buckets]
    assert counts == sorted(counts), "histogram buckets must be cumulative"
    assert sample(after, "loadbay_chunk_duration_seconds_bucket", le="60") == 5
    assert sample(after, "loadbay_chunk_duration_seconds_count") == 5
    assert sample(after, "loadbay_chunk_duration_seconds_sum") >= 0
    with db.read() as session:
        total_ms = session.scalar(
            sa.select(sa.func.sum(ImportChunk.duration_ms)).where(ImportChunk.job_id == job_id)
        )
    assert sample(after, "loadbay_chunk_duration_seconds_sum") == pytest.approx(
        (total_ms or 0) / 1000
    )
    assert sample(after, "loadbay_chunks_requeued_total") == 1
    assert sample(after, "loadbay_chunks_pending") == 0
    assert sample(after, "loadbay_queue_depth") == 0

    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    finalized = [r for r in caplog.records if r.getMessage() == "job finalized"]
    assert len(finalized) == 1  # logging it must not break the task (see finalize.py)
