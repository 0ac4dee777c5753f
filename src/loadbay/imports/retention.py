"""Purge: import jobs past retention, with their chunks, row issues and files.

Jobs are kept `retention_days` (30); previews never confirmed only
`preview_retention_hours` (24). Files go first: should the database step fail,
the next run finds the same jobs and finishes, while the reverse order would
leave files that nothing points to any more.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa

from loadbay.db import get_database, rowcount
from loadbay.imports.models import (
    ImportBeforeImage,
    ImportChunk,
    ImportJob,
    ImportRevertConflict,
    ImportRowIssue,
)
from loadbay.settings import get_settings
from loadbay.storage import get_storage

log = logging.getLogger("loadbay.imports")
BATCH = 200


def _expired(now: datetime) -> sa.ColumnElement[bool]:
    settings = get_settings()
    old = now - timedelta(days=settings.retention_days)
    stale_preview = now - timedelta(hours=settings.preview_retention_hours)
    return sa.or_(
        ImportJob.created_time < old,
        sa.and_(ImportJob.confirmed.is_(False), ImportJob.created_time < stale_preview),
    )


def purge_imports(now: datetime) -> dict[str, int]:
    """Delete what is past retention at `now` (naive UTC); answers what went, by kind."""
    counts = {"jobs": 0, "previews": 0, "chunks": 0, "issues": 0, "files": 0}
    db = get_database()
    storage = get_storage()
    while True:
        with db.read() as session:
            batch = session.execute(
                sa.select(ImportJob.id, ImportJob.organization_id, ImportJob.confirmed)
                .where(_expired(now))
                .order_by(ImportJob.created_time, ImportJob.id)
                .limit(BATCH)
            ).all()
        if not batch:
            break
        for job_id, org, _confirmed in batch:
            counts["files"] += storage.delete_prefix(f"{org}/imports/{job_id}/")
        ids = [row.id for row in batch]
        with db.write() as session:
            counts["issues"] += rowcount(
                session.execute(sa.delete(ImportRowIssue).where(ImportRowIssue.job_id.in_(ids)))
            )
            counts["chunks"] += rowcount(
                session.execute(sa.delete(ImportChunk).where(ImportChunk.job_id.in_(ids)))
            )
            for undo in (ImportBeforeImage, ImportRevertConflict):  # kept as long as the job
                session.execute(sa.delete(undo).where(undo.job_id.in_(ids)))
            session.execute(sa.delete(ImportJob).where(ImportJob.id.in_(ids)))
        counts["previews"] += sum(1 for row in batch if not row.confirmed)
        counts["jobs"] += sum(1 for row in batch if row.confirmed)
    if any(counts.values()):
        log.info("imports purged", extra=counts)
    return counts
