"""The console's one door into the import, export, catalog and webhook services.

Every call the pages make into those packages is here or, for the import review
(sheets, header row, changes to a draft, value maps, the review grid, revert), in
`services_review`, and nowhere else. What the app was built with comes in from the
route (a session of its database, its storage or settings, or all three as a
`Runtime`), never the process's current ones: a process may serve an app built for
other settings than those.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loadbay.auth import Principal
from loadbay.catalog import queries as catalog_queries
from loadbay.catalog.models import Hub
from loadbay.deps import Runtime
from loadbay.errors import BadRequest
from loadbay.exports import service as export_service
from loadbay.exports.models import ExportLog
from loadbay.imports import jobs, queries, review, service
from loadbay.imports.models import ImportJob
from loadbay.imports.schemas import MONITORING_STATUSES, job_status, job_view, records_for
from loadbay.imports.target import Target, load_target
from loadbay.imports.template import ensure_template
from loadbay.imports.upload import Upload
from loadbay.pagination import page_rows
from loadbay.queue import enqueue
from loadbay.settings import Settings
from loadbay.storage import Storage

FORMATS = ("csv", "tsv", "xlsx", "xls", "json", "ndjson")
EXPORT_FORMATS = {"xlsx": "Excel (XLSX)", "csv": "CSV", "json": "JSON (zipped)"}
IMPORT_MODES = service.IMPORT_MODES


@dataclass(frozen=True)
class Choice:
    """A data type or flow the user can import into or export from."""

    kind: str  # datasource | task
    id: str
    name: str
    needs_hub: bool

    @property
    def ref(self) -> str:
        return f"{self.kind}:{self.id}"


def choices(session: Session, org: str) -> list[Choice]:
    types = session.scalars(catalog_queries.data_types(org)).all()
    flows = session.scalars(catalog_queries.flows(org)).all()
    return [Choice("datasource", t.id, t.name, not t.common_data) for t in types] + [
        Choice("task", f.id, f.name, False) for f in flows
    ]


def hubs(session: Session, org: str) -> list[Hub]:
    return list(session.scalars(catalog_queries.hubs(org, None)))


def target(session: Session, org: str, ref: str) -> Target:
    kind, _, target_id = ref.partition(":")
    if kind not in ("datasource", "task") or not target_id:
        raise BadRequest("import-003", "Choose a data type or a flow")
    return load_target(session, org, kind, target_id)


def template_link(org: str, tgt: Target, storage: Storage) -> str:
    key = ensure_template(org, tgt, storage)
    return storage.link(org, key, f"{tgt.name} template.xlsx", 3600)


def limits(settings: Settings) -> dict[str, Any]:
    return {
        "formats": FORMATS,
        "max_bytes": settings.max_upload_bytes,
        "max_rows": settings.max_rows,
        "max_columns": settings.max_columns,
    }


# ---- import wizard -----------------------------------------------------------------------


def accept_upload(principal: Principal, upload: Upload, run: Runtime) -> tuple[str, int]:
    """Create a draft job (the preview step of POST /import-jobs) and send its whole-file
    check; answers its code and how many sheets the file has."""
    upload.fields["showPreview"] = "true"
    code, body = jobs.accept(principal, upload, run=run)
    assert body is not None
    review.enqueue(code, body.pop("generation"))  # after the commit, as the API
    return code, len(body.get("sheets") or [])


def confirm(principal: Principal, code: str, body: dict[str, Any], run: Runtime) -> None:
    """`PUT /import-jobs/{code}`: importMode, matchField, invalidRows, maxInvalid; the
    mapping and value map are the draft's (set by the map steps)."""
    jobs.confirm(principal, code, body, run=run)
    enqueue("plan", code)  # after the commit


def cancel(principal: Principal, code: str, run: Runtime) -> None:
    jobs.cancel(principal, code, run.db)


@dataclass(frozen=True)
class JobView:
    job: ImportJob
    status: str  # Queued | InProgress | Completed | Failed | Cancelled
    record: dict[str, Any]  # the monitoring record (links included)
    view: dict[str, Any]  # the import-job view (not-imported link included)

    @property
    def done(self) -> bool:
        return self.job.phase == "done"

    @property
    def percent(self) -> int:
        total = self.job.total_rows or 0
        if self.done:
            return 100
        return min(99, int(self.job.processed_rows * 100 / total)) if total else 0


def job(principal: Principal, code: str, run: Runtime) -> JobView:
    with run.db.read() as session:
        found = service.get_job(session, principal.org, code)
        return _view(session, found)


def _view(session: Session, found: ImportJob) -> JobView:
    record = records_for(session, [found])[0]
    return JobView(found, job_status(found), record, job_view(found))


def history(
    session: Session, org: str, status: str | None, kind: str | None, page: int, per_page: int
) -> tuple[list[JobView], int]:
    query = queries.jobs_query(
        org,
        statuses=[status] if status in MONITORING_STATUSES else None,
        types=[kind] if kind in ("datasource", "task") else None,
    )
    order = [ImportJob.created_time.desc(), ImportJob.id.desc()]
    found, total = page_rows(session, query, order, page, per_page)
    records = records_for(session, found)  # the names of all of them in one query
    views = [JobView(j, job_status(j), r, job_view(j)) for j, r in zip(found, records, strict=True)]
    return views, total


# ---- export ------------------------------------------------------------------------------


def export_log(
    session: Session, principal: Principal, page: int, per_page: int, storage: Storage
) -> tuple[list[tuple[ExportLog, str | None]], int]:
    """This user's exports, newest first, as GET /tasks/export-log shows them."""
    query = sa.select(ExportLog).where(
        ExportLog.organization_id == principal.org,
        sa.func.lower(ExportLog.email) == principal.email.lower(),
    )
    order = [ExportLog.request_at.desc(), ExportLog.id.desc()]
    entries, total = page_rows(session, query, order, page, per_page)
    return [(e, export_service.file_link(e, storage)) for e in entries], total


# ---- settings ----------------------------------------------------------------------------


def webhooks(session: Session, org: str) -> list[Any]:
    from loadbay.webhooks.models import WebhookEndpoint

    return list(
        session.scalars(
            sa.select(WebhookEndpoint)
            .where(WebhookEndpoint.organization_id == org)
            .order_by(WebhookEndpoint.created_time.desc())
        )
    )


def org_name(session: Session, org: str) -> str:
    from loadbay.catalog.models import Organization

    found = session.get(Organization, org)
    return found.name if found is not None else org
