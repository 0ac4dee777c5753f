"""Prometheus metrics at GET /metrics, read from the database so they cover the whole fleet.

Workers run in other processes (and on other machines), so in-process counters
would show one process; the job and chunk rows already hold every figure. A
custom collector runs the queries at each scrape and `prometheus_client` writes
the text (names, label escaping, number format).

Every figure here can go down: the purge deletes jobs and chunks past retention. So
they are gauges, and the chunk-duration distribution a gauge histogram
(`_bucket`, `_gsum`, `_gcount`), never counters that a scraper's `rate()` would read
as restarted.
"""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa
from fastapi import Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import GaugeHistogramMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from loadbay.db import get_database
from loadbay.exports.models import ExportLog
from loadbay.imports.models import ImportChunk, ImportJob
from loadbay.queue import queue_depth
from loadbay.routing import Router

router = Router()
BUCKETS_MS = (50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000)
OUTCOMES = ("created", "updated", "skipped", "failed")


class DatabaseCollector(Collector):
    """The fleet's figures, queried at each scrape."""

    def collect(self) -> Iterator[Metric]:
        with get_database().read() as session:
            jobs = GaugeMetricFamily(
                "loadbay_import_jobs", "Import jobs by type and status.", labels=["type", "status"]
            )
            for kind, status, count in session.execute(
                sa.select(ImportJob.type, ImportJob.status, sa.func.count())
                .where(ImportJob.confirmed.is_(True))
                .group_by(ImportJob.type, ImportJob.status)
            ):
                jobs.add_metric([kind, status], count)
            yield jobs

            totals = session.execute(
                sa.select(
                    *(
                        sa.func.coalesce(sa.func.sum(column), 0)
                        for column in (
                            ImportJob.created_count,
                            ImportJob.updated_count,
                            ImportJob.skipped_count,
                            ImportJob.failed_count,
                        )
                    )
                )
            ).one()
            rows = GaugeMetricFamily(
                "loadbay_import_rows",
                "Rows processed by outcome (jobs within retention).",
                labels=["outcome"],
            )
            for outcome, value in zip(OUTCOMES, totals, strict=True):
                rows.add_metric([outcome], value)
            yield rows

            cases = [
                sa.func.sum(sa.case((ImportChunk.duration_ms <= b, 1), else_=0)) for b in BUCKETS_MS
            ]
            count, total_ms, requeued, *buckets = session.execute(
                sa.select(
                    sa.func.count(ImportChunk.duration_ms),
                    sa.func.coalesce(sa.func.sum(ImportChunk.duration_ms), 0),
                    sa.func.coalesce(sa.func.sum(ImportChunk.requeued), 0),
                    *cases,
                )
            ).one()
            yield GaugeHistogramMetricFamily(
                "loadbay_chunk_duration_seconds",
                "Time to validate and write one chunk (chunks within retention).",
                buckets=[
                    *((f"{b / 1000:g}", v or 0) for b, v in zip(BUCKETS_MS, buckets, strict=True)),
                    ("+Inf", count),
                ],
                gsum_value=total_ms / 1000,
            )
            yield GaugeMetricFamily(
                "loadbay_chunks_requeued",
                "Stalled chunks the sweeper re-enqueued (chunks within retention).",
                value=requeued,
            )
            pending = session.scalar(
                sa.select(sa.func.count())
                .select_from(ImportChunk)
                .where(ImportChunk.state == "pending")
            )
            yield GaugeMetricFamily(
                "loadbay_chunks_pending", "Chunks waiting or running.", value=pending or 0
            )

            exports = GaugeMetricFamily(
                "loadbay_exports", "Export-log entries by status.", labels=["status"]
            )
            for status, value in session.execute(
                sa.select(ExportLog.status, sa.func.count()).group_by(ExportLog.status)
            ):
                exports.add_metric([status], value)
            yield exports
        yield GaugeMetricFamily(
            "loadbay_queue_depth", "Tasks waiting in the queue.", value=queue_depth()
        )


registry = CollectorRegistry(auto_describe=False)
registry.register(DatabaseCollector())


def render() -> bytes:
    return generate_latest(registry)


@router.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    return Response(render(), media_type=CONTENT_TYPE_PLAIN_0_0_4)
