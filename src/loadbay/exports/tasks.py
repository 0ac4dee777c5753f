"""What the worker does for exports beside writing them: the e-mail when a background
export ends, retention, and the sweeper's part (`sweep_exports`). The queue tasks
themselves are in `loadbay.worker.tasks`: the export task takes the export-log id and
reloads everything from the entry; a transient failure is retried by the queue, any
other one (or the last retry) records `Failed` with its reason.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa

from loadbay.db import get_database
from loadbay.exports import service, state
from loadbay.exports.models import ExportLog
from loadbay.ids import fmt_iso
from loadbay.notify import send_mail
from loadbay.queue import enqueue
from loadbay.settings import get_settings
from loadbay.storage import get_storage

log = logging.getLogger("loadbay.exports")

_PURGE_BATCH = 500


def enqueue_export(log_id: str) -> None:
    enqueue("export", log_id)


def notify(entry: ExportLog) -> bool:
    """Tell the requester of a background export how it ended."""
    if not entry.background:
        return False
    what = f"{entry.report_type} export '{entry.data_name}' ({entry.file_type})"
    requested = fmt_iso(entry.request_at)
    if entry.status == "Done":
        link = service.file_link(entry)
        days = get_settings().link_ttl_seconds // 86400
        subject = f"Your export is ready: {entry.data_name}"
        body = (
            f"Your {what}, requested at {requested}, is ready: {entry.total:,} records.\n\n"
            f"Download: {link}\n\n"
            f"The link works for {days} days; the file is kept "
            f"{get_settings().retention_days} days.\n"
        )
    else:
        subject = f"Your export failed: {entry.data_name}"
        body = (
            f"Your {what}, requested at {requested}, failed.\n\n"
            f"Reason: {entry.error or 'unknown'}\n\n"
            "Narrow the filters or try again; GET /tasks/export-log lists your exports.\n"
        )
    return send_mail(entry.email, subject, body)


def purge_exports(now: datetime) -> int:
    """Delete export files and log entries older than the retention; how many entries went.

    A file goes before its entry, so a failed delete leaves the entry for the next run.
    """
    db = get_database()
    storage = get_storage()
    cutoff = now - timedelta(days=get_settings().retention_days)
    purged = 0
    while True:
        with db.read() as session:
            batch = session.execute(
                sa.select(ExportLog.id, ExportLog.organization_id)
                .where(ExportLog.request_at < cutoff)
                .order_by(ExportLog.request_at, ExportLog.id)
                .limit(_PURGE_BATCH)
            ).all()
        if not batch:
            return purged
        gone = []
        for log_id, org in batch:
            try:
                storage.delete_prefix(f"{org}/exports/{log_id}/")
            except Exception:
                log.exception("export file not purged", extra={"export": log_id})
                continue
            gone.append(log_id)
        if gone:
            with db.write() as session:
                session.execute(sa.delete(ExportLog).where(ExportLog.id.in_(gone)))
        purged += len(gone)
        if len(gone) < len(batch):  # the rest is retried on the next run
            return purged


count_unclaimed = state.count_unclaimed
fail_stale_exports = state.fail_stale


def sweep_exports(now: datetime, *, lost: bool) -> int:
    """Fail exports out of attempts, and re-enqueue those whose worker died (their lease
    ran out) or, when queue messages were lost (`lost`), those no worker ever claimed."""
    ids = state.sweep(now, lost=lost)
    for log_id in ids:
        enqueue_export(log_id)
    return len(ids)
