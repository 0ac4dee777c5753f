"""The webhook events of imports, written to the outbox in the caller's transaction."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from loadbay.imports.models import ImportJob
from loadbay.imports.schemas import records_for
from loadbay.webhooks.service import record_event

IMPORT_EVENTS = {
    "success": "import.completed",
    "partially": "import.completed",
    "failed": "import.failed",
    "cancelled": "import.cancelled",
}


def import_event(session: Session, job_id: str, event_type: str | None = None) -> None:
    """The event of an import that has just ended (or `event_type`, e.g. reverted), with
    the monitoring record as `GET /import-monitoring/{id}` shows it."""
    job = session.get(ImportJob, job_id, populate_existing=True)
    if job is None or not job.confirmed:  # a draft never confirmed has no monitoring record
        return
    kind = event_type or IMPORT_EVENTS.get(job.status)
    if kind is None:
        return

    def data() -> Mapping[str, Any]:
        return records_for(session, [job])[0]

    record_event(session, job.organization_id, kind, data)
