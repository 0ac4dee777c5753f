"""Response shapes: the vendor's ImportMonitoring record and the CsvImportJobDto view."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BeforeValidator
from sqlalchemy.orm import Session

from loadbay.errors import BadRequest, NotFound
from loadbay.ids import fmt_iso, fmt_time
from loadbay.imports import names
from loadbay.imports.models import ImportJob
from loadbay.imports.progress import progress_fields
from loadbay.imports.queries import target_names
from loadbay.imports.target import load_target
from loadbay.imports.template import ensure_template
from loadbay.pagination import SORT_ORDERS
from loadbay.parsing import PageQuery
from loadbay.settings import get_settings
from loadbay.storage import get_storage

log = logging.getLogger("loadbay.imports")

MONITORING_TYPES = ("datasource", "task", "visit", "route")
MONITORING_STATUSES = ("onprocess", "success", "partially", "failed", "cancelled")
SORTABLE: dict[str, Any] = {
    "createdTime": ImportJob.created_time,
    "updatedTime": ImportJob.updated_time,
    "status": ImportJob.status,
    "filename": ImportJob.filename,
    "totalRows": ImportJob.total_rows,
    "processedAt": ImportJob.processed_at,
}


def _listed(allowed: tuple[str, ...], label: str) -> BeforeValidator:
    """A comma-separated list of `allowed` values, checked and kept as the text sent."""

    def check(raw: Any) -> str | None:
        if not raw:
            return None
        if any(v.strip() not in allowed for v in str(raw).split(",") if v.strip()):
            # The vendor's body exactly: it names the parameter, not the value.
            raise BadRequest("import-003", f"Invalid {label} value")
        return str(raw)

    return BeforeValidator(check)


def _sort_by(raw: Any) -> str:
    key = raw or "createdTime"
    if key not in SORTABLE:
        raise BadRequest("import-003", f"Invalid sortBy value: {key}")
    return str(key)


def _sort_order(raw: Any) -> str:
    order = str(raw or "desc").lower()
    if order not in SORT_ORDERS:
        raise BadRequest("import-003", f"Invalid sortOrder value: {raw}")
    return order


class MonitoringQuery(PageQuery):
    """`GET /import-monitoring`'s parameters, checked in the order the vendor checks them."""

    module = "import"

    type: Annotated[str | None, _listed(MONITORING_TYPES, "type")] = None
    status: Annotated[str | None, _listed(MONITORING_STATUSES, "status")] = None
    sortBy: Annotated[str, BeforeValidator(_sort_by)] = "createdTime"
    sortOrder: Annotated[str, BeforeValidator(_sort_order)] = "desc"
    dataTypeId: str | None = None

    def types(self) -> list[str]:
        return _items(self.type)

    def statuses(self) -> list[str]:
        return _items(self.status)


def _items(raw: str | None) -> list[str]:
    return [v.strip() for v in (raw or "").split(",") if v.strip()]


JOB_VIEW_STATUS = {
    "success": "Completed",
    "partially": "Completed",
    "failed": "Failed",
    "cancelled": "Cancelled",
}


def _link(job: ImportJob, key: str | None) -> str | None:
    if not key:
        return None
    name = names.download_name(job, key)
    return get_storage().link(job.organization_id, key, name, get_settings().link_ttl_seconds)


def failed_xlsx_link(job: ImportJob) -> str | None:
    """The failed rows as XLSX, the bad cells highlighted, a reason for each row."""
    return _link(job, (job.options or {}).get("failedXlsxKey"))


def monitoring_record(
    job: ImportJob, names: dict[str, str], template_key: str | None
) -> dict[str, Any]:
    """Fields without a value in this state are left out, never null (DECISIONS.md)."""
    finished = job.phase == "done"
    record: dict[str, Any] = {
        "_id": job.id,
        "organizationId": job.organization_id,
        "type": job.type,
        "hubId": job.hub_id,
        "filename": job.filename,
        # Finished, every row is counted exactly once (DECISIONS): valid + invalid.
        "totalRows": _counted(job) if finished else job.total_rows,
        "totalValid": job.created_count + job.updated_count,
        "totalInvalid": job.failed_count + job.skipped_count,
        "status": monitoring_status(job),
    }
    if job.type == "datasource":
        record["dataTypeId"] = job.data_type_id
        record["dataTypeName"] = names.get(str(job.data_type_id))
    else:
        record["flowId"] = job.flow_id
        record["flowName"] = names.get(str(job.flow_id))
    record["fileTemplate"] = _link(job, template_key)
    record["fileFailedImported"] = _link(job, job.failed_key)
    record["failedRowsXlsxUrl"] = failed_xlsx_link(job)
    record["errorMessage"] = monitoring_error(job)
    if finished and job.processed_at is not None:
        record["processedAt"] = fmt_time(job.processed_at)
        record["processingDuration"] = int((job.processed_at - job.created_time).total_seconds())
    record.update(structure(job))
    record.update(revert_fields(job, fmt_time))
    record.update(
        totalChunks=job.total_chunks,
        processedChunks=job.processed_chunks,
        createdBy=job.created_by,
        updatedBy=job.updated_by or job.created_by,
        createdTime=fmt_time(job.created_time),
        updatedTime=fmt_time(job.updated_time),
    )
    record.update(progress_fields(job))
    return {k: v for k, v in record.items() if v is not None}


def structure(job: ImportJob) -> dict[str, Any]:
    """Which sheet and header row were read, the rows above it (not data) and the
    columns no field took (DECISIONS: `ignoredColumns`)."""
    options = job.options or {}
    return {
        "sheet": job.sheet_name if job.file_format in ("xlsx", "xls") else None,
        "headerRow": options.get("headerRow"),
        "rowsAboveHeader": options.get("rowsAboveHeader"),
        "ignoredColumns": options.get("ignoredColumns"),
    }


def _counted(job: ImportJob) -> int:
    return job.created_count + job.updated_count + job.failed_count + job.skipped_count


def monitoring_status(job: ImportJob) -> str:
    """The vendor's list has no `cancelled`: strict clients reject an unknown enum value."""
    return "failed" if job.status == "cancelled" else job.status


def monitoring_error(job: ImportJob) -> str | None:
    if job.status != "cancelled":
        return job.error_message
    who = job.cancelled_by or job.updated_by or "system"
    when = job.cancelled_at or job.processed_at or job.updated_time
    return f"Cancelled by {who} at {fmt_time(when)}"


def job_status(job: ImportJob) -> str:
    if job.status in JOB_VIEW_STATUS:
        return JOB_VIEW_STATUS[job.status]
    return "Queued" if job.phase in ("preview", "queued") else "InProgress"


def job_view(job: ImportJob) -> dict[str, Any]:
    view: dict[str, Any] = {
        "code": job.id,
        "status": job_status(job),
        "fileName": job.filename,
        # Finished, both views count the same rows: those with an outcome (a job cancelled
        # before its plan read anything counts none, whatever the preview counted).
        "totalItems": _counted(job) if job.phase == "done" else job.total_rows,
        "processedItems": _counted(job) if job.phase == "done" else job.processed_rows,
        "createdCount": job.created_count,
        "updatedCount": job.updated_count,
        "skippedCount": job.skipped_count,
        "errorCount": job.failed_count,
        "startedDate": fmt_iso(job.started_at),
        "completedDate": fmt_iso(job.processed_at) if job.phase == "done" else None,
        "createdDate": fmt_iso(job.created_time),
        "notImportedDownloadUrl": _link(job, job.not_imported_key),
        "failedRowsXlsxUrl": failed_xlsx_link(job),
        **structure(job),
        **revert_fields(job, fmt_iso),
    }
    view.update(progress_fields(job))
    return {k: v for k, v in view.items() if v is not None}


def revert_fields(job: ImportJob, fmt: Callable[[Any], str | None]) -> dict[str, Any]:
    """The undo's progress and outcome, only once a revert was asked for."""
    if job.revert_status is None:
        return {}
    return {
        "revertStatus": job.revert_status,
        "revertedBy": job.reverted_by,
        "revertedAt": fmt(job.reverted_at) if job.reverted_at else None,
        "revertedCount": job.reverted_count,
        "revertSkipped": job.revert_skipped,
    }


def records_for(session: Session, jobs: list[ImportJob]) -> list[dict[str, Any]]:
    names = target_names(session, jobs)
    templates: dict[tuple[str, str], str | None] = {}
    out = []
    for job in jobs:
        target_id = str(job.data_type_id or job.flow_id)
        key = (job.type, target_id)
        if key not in templates:
            try:
                templates[key] = ensure_template(
                    job.organization_id, load_target(session, job.organization_id, *key)
                )
            except NotFound:  # a deleted data type or flow has no template
                templates[key] = None
            except Exception:  # the record still shows; the failure is the operator's to see
                log.exception(
                    "import template not made", extra={"job": job.id, "target": target_id}
                )
                templates[key] = None
        out.append(monitoring_record(job, names, templates[key]))
    return out
