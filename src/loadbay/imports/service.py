"""Import jobs: creation from an upload, queries, cancel. Services never commit."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from loadbay.auth import Principal
from loadbay.catalog.models import Hub
from loadbay.errors import BadRequest, NotFound, Unprocessable
from loadbay.ids import new_id, utcnow
from loadbay.imports import values
from loadbay.imports.mapping import UNMAPPED_POLICIES
from loadbay.imports.models import ImportConfig, ImportJob
from loadbay.imports.target import Target, check_match_field, load_target
from loadbay.imports.upload import Upload, storage_full
from loadbay.storage import Storage, get_storage
from loadbay.tabular.readers import TableError
from loadbay.tabular.sniff import FILE_TYPE_MESSAGE, detect_format
from loadbay.tabular.xlsx_biff import PASSWORD_MESSAGE, is_encrypted

log = logging.getLogger("loadbay.imports")

IMPORT_MODES = ("CreateOnly", "UpdateOnly", "CreateAndUpdate")


def _required(fields: dict[str, str], name: str) -> str:
    value = (fields.get(name) or "").strip()
    if not value:
        raise BadRequest("import-001", f"The {name} field is required.")
    return value


def prepare(
    session: Session,
    principal: Principal,
    kind: str,
    fields: dict[str, str],
    upload: Upload,
    *,
    by_default: bool = False,
) -> tuple[ImportJob, Target]:
    """Validate the form and the file's type and build the job (not yet added).
    `by_default`: apply the organisation's locale and memory unless the form says
    otherwise (the import-job flow); else only when the form asks (vendor uploads)."""
    target_id = _required(fields, "dataTypeId" if kind == "datasource" else "flowId")
    try:
        target = load_target(session, principal.org, kind, target_id)
    except NotFound as exc:  # the vendor's upload answers 422 for "data type not found"
        raise Unprocessable(exc.failed_code, exc.message) from None
    hub_id = (fields.get("hubId") or "").strip() or None
    if kind == "datasource" and not target.common_data and hub_id is None:
        raise BadRequest("import-001", "The hubId field is required for this data type")
    if hub_id is not None:
        hub = session.get(Hub, hub_id)
        if hub is None or hub.organization_id != principal.org:
            raise Unprocessable("import-033", f"Hub {hub_id} not found")
    mode = (fields.get("importMode") or "CreateAndUpdate").strip()
    if mode not in IMPORT_MODES:
        raise BadRequest("import-003", f"importMode must be one of {', '.join(IMPORT_MODES)}")
    match = check_match_field(target, fields.get("matchField"))
    config_id = (fields.get("importConfigId") or "").strip() or None
    try:
        mapping = config_mapping(session, principal.org, target, config_id) if config_id else None
    except NotFound as exc:
        raise Unprocessable(exc.failed_code, exc.message) from None
    try:
        fmt = detect_format(upload.filename or "", upload.head)
    except TableError as exc:
        extra = {"detail": exc.detail} if exc.detail else None
        raise Unprocessable("import-002", exc.message, extra=extra) from None
    if fmt == "xls" and upload.path is not None and is_encrypted(upload.path):
        # The vendor answers an encrypted workbook as a file of the wrong type: its
        # status, code and message stay, and `detail` says what the file is.
        raise Unprocessable("import-002", FILE_TYPE_MESSAGE, extra={"detail": PASSWORD_MESSAGE})
    header_flag = (fields.get("hasHeaderRow") or "true").strip().lower() not in ("false", "0", "no")
    options = upload_options(fields)
    options.update(values.upload_options(session, principal.org, fields, by_default=by_default))
    job_id = new_id()
    ext = f".{fmt}"  # from the detected format: the client's name is not trusted in a key
    job = ImportJob(
        id=job_id,
        organization_id=principal.org,
        type=kind,
        data_type_id=target.id if kind == "datasource" else None,
        flow_id=target.id if kind == "task" else None,
        hub_id=hub_id,
        filename=(upload.filename or f"upload{ext}")[:500],
        file_key=f"{principal.org}/imports/{job_id}/upload{ext}",
        file_format=fmt,
        file_size=upload.size,
        sheet_name=(fields.get("sheet") or fields.get("sheetName") or "").strip()[:200] or None,
        has_header_row=header_flag,
        import_mode=mode,
        match_field=match,
        mapping=mapping,
        import_config_id=config_id,
        options=options or None,
        created_by=principal.email,
        updated_by=principal.email,
        lease_expires=utcnow(),
    )
    return job, target


def header_row_of(value: Any) -> int | None:
    """`headerRow`: the 1-based row of the header; blank means find it."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or int(text) < 1:
        raise BadRequest("import-003", f"headerRow must be a row number from 1, not '{value}'")
    return int(text)


def unmapped_policy(value: Any) -> str | None:
    if value is None or value == "":
        return None
    text = str(value).strip()
    if text not in UNMAPPED_POLICIES:
        raise BadRequest(
            "import-003", f"unmappedColumns must be one of {', '.join(UNMAPPED_POLICIES)}"
        )
    return text


def upload_options(fields: dict[str, str]) -> dict[str, Any]:
    """The review's form fields, kept in the job's `options`."""
    options: dict[str, Any] = {}
    header_row = header_row_of(fields.get("headerRow"))
    if header_row is not None:
        options["headerRow"] = header_row
    policy = unmapped_policy(fields.get("unmappedColumns"))
    if policy is not None:
        options["unmappedColumns"] = policy
    return options


def store_upload(job: ImportJob, upload: Upload, storage: Storage | None = None) -> None:
    """Keep the upload as the job's file in `storage` (the caller's app's; the process's
    when not given)."""
    assert upload.path is not None
    storage = storage or get_storage()
    try:
        storage.save_file(job.file_key, upload.path)
    except OSError as exc:
        full = storage_full(exc)
        if full is None:
            raise
        drop_upload(job, storage)  # a partial copy may be there
        raise full from None


def drop_upload(job: ImportJob, storage: Storage | None = None) -> None:
    """Remove a stored upload whose job was never recorded."""
    try:
        (storage or get_storage()).delete(job.file_key)
    except Exception:
        log.exception("could not remove the stored upload %s", job.file_key)


def config_mapping(
    session: Session, org: str, target: Target, config_id: str
) -> list[dict[str, Any]]:
    config = session.get(ImportConfig, config_id)
    if config is None or config.organization_id != org:
        raise NotFound("import-033", f"Import config {config_id} not found")
    if config.reference_id != target.id:
        raise BadRequest(
            "import-003", f"Import config {config_id} is for another {config.reference_type}"
        )
    return list(config.fields)


def get_job(session: Session, org: str, job_id: str) -> ImportJob:
    job = session.get(ImportJob, job_id)
    if job is None or job.organization_id != org:
        raise NotFound("import-004", "Import monitoring record not found")
    return job
