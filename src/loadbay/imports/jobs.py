"""Import jobs of the preview flow: accept an upload as a draft (or a queued job),
confirm a draft with its mapping and rules, cancel. The import-job routes and the
console call these; each caller enqueues what a function queued once it has returned,
i.e. after the commit.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from loadbay import idempotency
from loadbay.auth import Principal
from loadbay.db import Database, get_database
from loadbay.deps import Runtime, current
from loadbay.errors import BadRequest, Conflict
from loadbay.imports import mapping, review, service, state, values
from loadbay.imports.bodies import (
    MappingContext,
    MappingIn,
    RulesContext,
    RulesIn,
    StructureIn,
)
from loadbay.imports.models import ImportJob
from loadbay.imports.preview import (
    preview_body,
    read_preview,
    remember_structure,
    target_id_of,
)
from loadbay.imports.queries import mapping_history
from loadbay.imports.target import load_target
from loadbay.imports.upload import Upload
from loadbay.parsing import validate

FALSE_WORDS = ("false", "0", "no", "off")


# ---- accept ------------------------------------------------------------------------------


def _kind(fields: dict[str, str]) -> str:
    data_type = (fields.get("dataTypeId") or "").strip()
    flow = (fields.get("flowId") or "").strip()
    if data_type and flow:
        raise BadRequest("import-003", "Give either dataTypeId or flowId, not both")
    if not data_type and not flow:
        raise BadRequest("import-001", "The dataTypeId or flowId field is required")
    return "task" if flow else "datasource"


def accept(
    principal: Principal, upload: Upload, *, run: Runtime | None = None
) -> tuple[str, dict[str, Any] | None]:
    """Create the job; answers its id and, when previewing, the preview body (whose
    `generation` the caller hands to `review.enqueue` once this has returned). `run`:
    what the app was built with (the process's current ones when not given)."""
    kind = _kind(upload.fields)
    show = (upload.fields.get("showPreview") or "true").strip().lower() not in FALSE_WORDS
    idempotency.claim(upload.digest())  # a repeat answers here, before any work
    run = current(run)
    db = run.db
    with db.read() as session:
        job, target = service.prepare(
            session, principal, kind, upload.fields, upload, by_default=True
        )
        remember = show and bool((job.options or {}).get("useMemory"))
        history = mapping_history(session, principal.org, target) if remember else []
        if remember:  # suggested first: the value maps this organisation confirmed before
            remembered = values.remembered_value_map(session, principal.org, target)
            if remembered:
                job.options = {**(job.options or {}), "valueMap": remembered}
    body = None
    if show:
        assert upload.path is not None
        preview = read_preview(upload.path, job, target, history, run.settings)
        remember_structure(job, preview)
        job.total_rows = preview.total_rows  # the job view's totalItems until the plan counts
        body = preview_body(job, preview)
    job.phase, job.confirmed = ("preview", False) if show else ("queued", True)
    service.store_upload(job, upload, run.storage)  # where the draft's changes read it
    try:
        with db.write() as session:
            session.add(job)
            idempotency.record(session, job.id)
            if body is not None:  # the whole-file check (imports/review.py), sent after commit
                session.flush()
                body["generation"] = review.start(
                    session, job, body["suggestedMapping"], body["totalRows"]
                )
    except BaseException:
        service.drop_upload(job, run.storage)
        raise
    return job.id, body


def validation(code: str, db: Database | None = None) -> dict[str, Any] | None:
    with (db or get_database()).read() as session:
        return review.summary(session, code)


def load_job(org: str, code: str, db: Database | None = None) -> ImportJob:
    with (db or get_database()).read() as session:
        return service.get_job(session, org, code)


# ---- confirm -----------------------------------------------------------------------------


def confirm_job(
    session: Session,
    principal: Principal,
    code: str,
    body: dict[str, Any],
    restructured: ImportJob | None = None,
) -> None:
    """Store the mapping, mode and match field and queue the job. The caller enqueues
    the plan step once this is committed. `restructured`: the job as read again with
    the confirm's `sheet`/`headerRow` (see `reread`)."""
    job = service.get_job(session, principal.org, code)
    if job.confirmed or job.phase != "preview":
        raise Conflict("import-032", f"Import job {code} is already confirmed or cancelled")
    target = load_target(session, principal.org, job.type, target_id_of(job))
    options = dict((restructured or job).options or {})

    def config_mapping(config_id: str) -> list[dict[str, Any]]:
        return service.config_mapping(session, principal.org, target, config_id)

    context = MappingContext(job, target, options, config_mapping)
    chosen = validate(MappingIn, body, "import", context)
    structure: dict[str, Any] = {}
    if restructured is not None:
        structure = {"headers": restructured.headers, "sheet_name": restructured.sheet_name}
    headers = list(structure.get("headers") or job.headers or [])
    policy = chosen.unmappedColumns
    if chosen.mapping is None:
        history = mapping_history(session, principal.org, target)
        resolved = mapping.resolve_mapping(
            headers,
            target.specs,
            preset=job.mapping,
            history=history,
            unmapped=policy,
        )
    else:
        resolved = mapping.resolve_mapping(headers, target.specs, chosen.mapping, unmapped=policy)
    rules = validate(RulesIn, body, "import", RulesContext(target, values.rules_of(job)))
    options.update(
        unmappedColumns=policy, ignoredColumns=resolved.ignored, invalidRows=rules.invalidRows
    )
    if "valueMap" in rules.model_fields_set:  # else the draft's (PATCH, or the preview's)
        options["valueMap"] = rules.valueMap
    if rules.maxInvalid is not None:
        options["maxInvalid"] = rules.maxInvalid
    changed = state.confirm(
        session,
        code,
        mapping=resolved.items(),
        options=options,
        **structure,
        import_mode=chosen.importMode,
        match_field=chosen.matchField,
        import_config_id=chosen.importConfigId or job.import_config_id,
        updated_by=principal.email,
    )
    if not changed:  # a concurrent confirm or cancel got there first
        raise Conflict("import-032", f"Import job {code} is already confirmed or cancelled")


def confirm(
    principal: Principal, code: str, body: dict[str, Any], *, run: Runtime | None = None
) -> None:
    """`confirm_job` in its own transaction, after reading the file again when the body
    names another sheet or header row. The caller enqueues the plan step."""
    run = current(run)
    restructured = reread(principal, code, body, run=run)
    with run.db.write() as session:
        confirm_job(session, principal, code, body, restructured)


def reread(
    principal: Principal, code: str, body: dict[str, Any], *, run: Runtime | None = None
) -> ImportJob | None:
    """A confirm that names another `sheet` or `headerRow` reads the file again (in the
    preview's limited child) so the mapping is checked against that sheet's headers;
    answers the job with its new structure, or None when neither is given."""
    if not StructureIn.asked(body):
        return None
    run = current(run)
    job = load_job(principal.org, code, run.db)
    if job.confirmed or job.phase != "preview":
        return None  # confirm_job answers the conflict
    asked = validate(StructureIn, body, "import")
    if asked.sheet is not None:
        job.sheet_name = asked.sheet
    options = dict(job.options or {})
    options.pop("headerRow", None)
    if asked.headerRow is not None:
        options["headerRow"] = asked.headerRow
    job.options = options
    with run.db.read() as session:
        target = load_target(session, principal.org, job.type, target_id_of(job))
    with run.storage.local_copy(job.file_key) as path:
        remember_structure(job, read_preview(path, job, target, [], run.settings))
    return job


# ---- cancel ------------------------------------------------------------------------------


def cancel_job(session: Session, principal: Principal, code: str) -> None:
    """A job not yet started stops at once; a running one after the chunk in flight."""
    service.get_job(session, principal.org, code)
    if state.cancel(session, code, principal.email) == "stopped":
        return
    flagged = state.cancel(session, code, principal.email, running=True)
    if flagged != "flagged":
        raise Conflict("import-032", f"Import job {code} has already finished")


def cancel(principal: Principal, code: str, db: Database | None = None) -> ImportJob:
    """`cancel_job` in its own transaction; answers the job as it is then."""
    db = db or get_database()
    with db.write() as session:
        cancel_job(session, principal, code)
    return load_job(principal.org, code, db)
