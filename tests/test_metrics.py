"""GET /metrics after a real import: jobs by type and status, rows by outcome, the chunk
duration histogram, the queue depth, and chunks the sweeper re-enqueued.

The queue is a plain in-memory Huey that this test drains by hand, so it can stop between
the plan and the chunks, expire a lease and sweep, the way a dead worker would leave things.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from loadbay.db import Database
from loadbay.exports.models import ExportLog
from loadbay.ids import utcnow
from loadbay.imports.models import ImportChunk
from loadbay.queue import attach, huey
from loadbay.settings import Settings
from tests.imports.conftest import Uploader, catalog, csv_bytes, org_id, upload  # noqa: F401

Sample = tuple[str, frozenset[tuple[str, str]]]


def parse(text: str) -> dict[Sample, float]:
    """The exposition text through prometheus_client's own parser; no sample twice."""
    samples: dict[Sample, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            key = (s.name, frozenset(s.labels.items()))
            assert key not in samples, f"sample twice: {key}"
            samples[key] = s.value
    return samples


def types(text: str) -> dict[str, str]:
    return {family.name: family.type for family in text_string_to_metric_families(text)}


def sample(samples: dict[Sample, float], name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


@pytest.fixture
def manual_queue(worker_for: Callable[..., Settings]) -> Iterator[None]:
    """Tasks wait in memory until `drain()`; the worker's chunks of 100 rows."""
    worker_for(chunk_size=100)
    attach()  # the environment's queue (memory://), before turning its immediate mode off
    saved = huey.storage, huey.immediate
    huey.immediate = False  # a fresh in-memory queue that nothing consumes
    try:
        yield
    finally:
        huey.storage, huey.immediate = saved


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
    assert sweep() == {
        "plans": 0,
        "chunks": 1,
        "finalizes": 0,
        "exports": 0,
        "failed": 0,
        "webhooks": 0,
    }
    assert sweep() == {
        "plans": 0,
        "chunks": 0,
        "finalizes": 0,
        "exports": 0,
        "failed": 0,
        "webhooks": 0,
    }  # its lease is fresh again

    before = parse(app_client.get("/metrics").text)
    assert sample(before, "loadbay_import_jobs", type="datasource", status="onprocess") == 1
    assert sample(before, "loadbay_queue_depth") == 6  # five chunks and the re-enqueued one
    assert sample(before, "loadbay_chunks_pending") == 5
    assert sample(before, "loadbay_chunks_requeued") == 1
    assert sample(before, "loadbay_chunk_duration_seconds_gcount") == 0

    assert drain() == 7  # six chunk messages (one a no-op duplicate) and the finalize
    answer = app_client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = answer.text
    # Every figure can go down (the purge deletes jobs): none is a counter.
    assert types(text) == {
        "loadbay_import_jobs": "gauge",
        "loadbay_import_rows": "gauge",
        "loadbay_chunk_duration_seconds": "histogram",  # a gauge histogram: _gsum, _gcount
        "loadbay_chunk_duration_seconds_gcount": "gauge",
        "loadbay_chunk_duration_seconds_gsum": "gauge",
        "loadbay_chunks_requeued": "gauge",
        "loadbay_chunks_pending": "gauge",
        "loadbay_exports": "gauge",
        "loadbay_queue_depth": "gauge",
    }
    after = parse(text)
    assert {k: v for k, v in after.items() if k[0] == "loadbay_import_jobs"} == {
        ("loadbay_import_jobs", frozenset({("type", "datasource"), ("status", "partially")})): 1
    }
    outcomes = {
        outcome: sample(after, "loadbay_import_rows", outcome=outcome)
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
    assert sample(after, "loadbay_chunk_duration_seconds_gcount") == 5
    assert sample(after, "loadbay_chunk_duration_seconds_gsum") >= 0
    with db.read() as session:
        total_ms = session.scalar(
            sa.select(sa.func.sum(ImportChunk.duration_ms)).where(ImportChunk.job_id == job_id)
        )
    assert sample(after, "loadbay_chunk_duration_seconds_gsum") == pytest.approx(
        (total_ms or 0) / 1000
    )
    assert sample(after, "loadbay_chunks_requeued") == 1
    assert sample(after, "loadbay_chunks_pending") == 0
    assert sample(after, "loadbay_queue_depth") == 0

    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    finalized = [r for r in caplog.records if r.getMessage() == "job finalized"]
    assert len(finalized) == 1  # logging it must not break the task (see finalize.py)


def test_label_values_are_escaped(app_client: TestClient, db: Database) -> None:
    """A label value with a quote, a backslash and a line break still parses back exactly
    (the hand-written text put them in as they were)."""
    odd = 'a"b\\c\nd'
    with db.write() as session:
        session.add(
            ExportLog(organization_id="o" * 24, report_type="task", file_type="csv",
                      status=odd, params={}, email="x@example.com")
        )  # fmt: skip
    samples = parse(app_client.get("/metrics").text)
    assert sample(samples, "loadbay_exports", status=odd) == 1


def test_a_queue_that_cannot_answer_reads_minus_one_and_says_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from huey.storage import RedisStorage

    from loadbay.queue import queue_depth

    saved = huey.storage
    huey.storage = RedisStorage("loadbay", url="redis://127.0.0.1:1/0")  # nothing listens
    try:
        with caplog.at_level(logging.WARNING, logger="loadbay.queue"):
            assert queue_depth() == -1
    finally:
        huey.storage = saved
    failure = next(r for r in caplog.records if r.getMessage() == "queue depth not read")
    assert failure.exc_info is not None
