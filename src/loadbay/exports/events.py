"""The webhook events of exports, written to the outbox in the caller's transaction."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from loadbay.exports.models import ExportLog
from loadbay.exports.schemas import log_entry
from loadbay.webhooks.service import record_event


def export_event(session: Session, log_id: str) -> None:
    """`export.completed` or `export.failed` for an export-log entry that has just ended,
    with its `_source` and `_id` as `GET /tasks/export-log` shows them."""
    entry = session.get(ExportLog, log_id, populate_existing=True)
    kind = {"Done": "export.completed", "Failed": "export.failed"}.get(
        entry.status if entry else ""
    )
    if entry is None or kind is None:
        return

    def data() -> Mapping[str, Any]:
        shown = log_entry(entry)
        return {"_id": shown["_id"], **shown["_source"]}

    record_event(session, entry.organization_id, kind, data)
