"""Prometheus metrics at GET /metrics, read from the database so they cover the whole fleet.

Workers run in other processes (and on other machines), so in-process counters
would show one process; the job and chunk rows already hold every figure.
"""

from __future__ import annotations

import sqlalchemy as sa
from fastapi.responses import PlainTextResponse

from loadbay.db import get_database
from loadbay.exports.models import ExportLog
from loadbay.imports.models import ImportChunk, ImportJob
from loadbay.queue import queue_depth
from loadbay.routing import Router

router = Router()
BUCKETS_MS = (50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000)


def _line(name: str, value: float, **labels: str) -> str:
    if labels:
        inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        return f"{name}{{{inner}}} {value:g}"
    return f"{name} {value:g}"


def render() -> str:
    out: list[str] = []
    with get_database().read() as session:
        out += [
            "# HELP loadbay_import_jobs Import jobs by type and status.",
            "# TYPE loadbay_import_jobs gauge",
        ]
        for kind, status, count in session.execute(
            sa.select(ImportJob.type, ImportJob.status, sa.func.count())
            .where(ImportJob.confirmed.is_(True))
            .group_by(ImportJob.type, ImportJob.status)
        ):
            out.append(_line("loadbay_import_jobs", count, type=kind, status=status))
        totals = session.execute(
            sa.select(
                sa.func.coalesce(sa.func.sum(ImportJob.created_count), 0),
                sa.func.coalesce(sa.func.sum(ImportJob.updated_count), 0),
                sa.func.coalesce(sa.func.sum(ImportJob.skipped_count), 0),
                sa.func.coalesce(sa.func.sum(ImportJob.failed_count), 0),
            )
        ).one()
        out += [
            "# HELP loadbay_import_rows_total Rows processed by outcome (jobs within retention).",
            "# TYPE loadbay_import_rows_total counter",
        ]
        for outcome, value in zip(("created", "updated", "skipped", "failed"), totals, strict=True):
            out.append(_line("loadbay_import_rows_total", value, outcome=outcome))
        cases = [
            sa.func.sum(sa.case((ImportChunk.duration_ms <= b, 1), else_=0)) for b in BUCKETS_MS
        ]
        row = session.execute(
            sa.select(
                sa.func.count(ImportChunk.duration_ms),
                sa.func.coalesce(sa.func.sum(ImportChunk.duration_ms), 0),
                sa.func.coalesce(sa.func.sum(ImportChunk.requeued), 0),
                *cases,
            )
        ).one()
        count, total_ms, requeued, *buckets = row
        out += [
            "# HELP loadbay_chunk_duration_seconds Time to validate and write one chunk.",
            "# TYPE loadbay_chunk_duration_seconds histogram",
        ]
        for bound, value in zip(BUCKETS_MS, buckets, strict=True):
            out.append(
                _line("loadbay_chunk_duration_seconds_bucket", value or 0, le=f"{bound / 1000:g}")
            )
        out.append(_line("loadbay_chunk_duration_seconds_bucket", count, le="+Inf"))
        out.append(_line("loadbay_chunk_duration_seconds_sum", total_ms / 1000))
        out.append(_line("loadbay_chunk_duration_seconds_count", count))
        out += [
            "# HELP loadbay_chunks_requeued_total Stalled chunks the sweeper re-enqueued.",
            "# TYPE loadbay_chunks_requeued_total counter",
            _line("loadbay_chunks_requeued_total", requeued),
            "# HELP loadbay_chunks_pending Chunks waiting or running.",
            "# TYPE loadbay_chunks_pending gauge",
            _line(
                "loadbay_chunks_pending",
                session.scalar(
                    sa.select(sa.func.count())
                    .select_from(ImportChunk)
                    .where(ImportChunk.state == "pending")
                )
                or 0,
            ),
            "# HELP loadbay_exports Export-log entries by status.",
            "# TYPE loadbay_exports gauge",
        ]
        for status, value in session.execute(
            sa.select(ExportLog.status, sa.func.count()).group_by(ExportLog.status)
        ):
            out.append(_line("loadbay_exports", value, status=status))
    out += [
        "# HELP loadbay_queue_depth Tasks waiting in the queue.",
        "# TYPE loadbay_queue_depth gauge",
        _line("loadbay_queue_depth", queue_depth()),
    ]
    return "\n".join(out) + "\n"


@router.get("/metrics", include_in_schema=False)
def metrics() -> PlainTextResponse:
    return PlainTextResponse(render(), media_type="text/plain; version=0.0.4")
