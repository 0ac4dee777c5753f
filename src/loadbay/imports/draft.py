"""Changes to a draft (a previewed job not yet confirmed): its sheet, header row,
mapping, value map and locale. Each change reads the file's head again and restarts
the whole-file check; `PATCH /import-jobs/{code}` and the console call this.
"""

from __future__ import annotations

from typing import Any

from loadbay.auth import Principal
from loadbay.catalog.org_settings import locale_for
from loadbay.db import Database, get_database
from loadbay.deps import Runtime, current
from loadbay.errors import Conflict
from loadbay.imports import mapping, review, service, values
from loadbay.imports.bodies import DraftChangeIn
from loadbay.imports.models import ImportJob
from loadbay.imports.preview import read_preview, remember_structure, target_id_of
from loadbay.imports.queries import mapping_history
from loadbay.imports.review_models import ImportReview
from loadbay.imports.target import load_target


def draft_job(principal: Principal, code: str, db: Database | None = None) -> ImportJob:
    """The job while it is a draft; 409 `import-032` once confirmed or cancelled."""
    with (db or get_database()).read() as session:
        job = service.get_job(session, principal.org, code)
    if job.confirmed or job.phase != "preview":
        raise Conflict("import-032", f"Import job {code} is already confirmed or cancelled")
    return job


class _Changed(Exception):
    """The draft changed between this change's read and its write."""


_ATTEMPTS = 5  # two tabs, a client's retries: more at once than this is not a person


def change_draft(
    principal: Principal, code: str, change: DraftChangeIn, *, run: Runtime | None = None
) -> ImportJob:
    """Apply `change` (read by `bodies.draft_change`) to the draft, commit it with a new
    generation of the whole-file check and send that check; answers the job as stored.
    `run`: what the app was built with (the process's current ones when not given).

    The draft is read, changed (reading the file's head again) and written whole; a
    change that finds another committed meanwhile (the check's generation moved) is made
    again on top of it, so two changes sent together both hold."""
    run = current(run)
    for _ in range(_ATTEMPTS - 1):
        try:
            return _change_once(principal, code, change, run)
        except _Changed:
            continue
    return _change_once(principal, code, change, run, last=True)


def _generation(session: Any, code: str, *, lock: bool = False) -> int:
    """The draft's check generation (it moves with every committed change); `lock`: held
    to the end of the write (PostgreSQL; SQLite's write turn already is one writer)."""
    found = session.get(ImportReview, code, with_for_update=lock)
    return int(found.generation) if found is not None else 0


def _change_once(
    principal: Principal, code: str, change: DraftChangeIn, run: Runtime, *, last: bool = False
) -> ImportJob:
    with run.db.read() as session:
        seen = _generation(session, code)
    job = draft_job(principal, code, run.db)
    given = change.model_fields_set
    options = dict(job.options or {})
    if change.sheet is not None:
        if change.sheet != job.sheet_name and "headerRow" not in given:
            options.pop("headerRow", None)  # found again: the old one was another sheet's
        job.sheet_name = change.sheet
    if "headerRow" in given:
        options.pop("headerRow", None)
        if change.headerRow is not None:
            options["headerRow"] = change.headerRow
    job.options = options
    with run.db.read() as session:
        target = load_target(session, principal.org, job.type, target_id_of(job))
        history = mapping_history(session, principal.org, target)
        if change.locale is not None:  # stored as the rules the upload would use
            rules = locale_for(session, principal.org, change.locale, by_default=True)
            options["locale"] = rules.as_options() if rules is not None else None
            job.options = options
    if change.valueMap is not None:  # each `to` must fit its field, as at confirm
        options["valueMap"] = values.parse_value_map(change.valueMap, target, values.rules_of(job))
        job.options = options
    items = change.mapping
    with run.storage.local_copy(job.file_key) as path:
        preview = read_preview(path, job, target, [] if items else history, run.settings)
    remember_structure(job, preview)
    if items:  # a conflict is a 400 naming it, as at confirm
        chosen = mapping.resolve_mapping(job.headers or [], target.specs, items, strict=False)
        job.mapping = chosen.items() + [
            {"headerColumn": h, "ignore": True} for h in chosen.ignored if chosen.why[h] == "ignore"
        ]
        job.options = {**(job.options or {}), "draftMapping": True}
    draft = job.mapping if items else preview.suggested
    with run.db.write() as session:
        stored = service.get_job(session, principal.org, code)
        if stored.confirmed or stored.phase != "preview":
            raise Conflict("import-032", f"Import job {code} is already confirmed or cancelled")
        if not last and _generation(session, code, lock=True) != seen:
            raise _Changed  # rolled back: made again on the draft as it is now
        stored.sheet_name, stored.headers = job.sheet_name, job.headers
        stored.options, stored.mapping = job.options, job.mapping
        stored.updated_by = principal.email
        generation = review.start(session, stored, draft, preview.total_rows)
    review.enqueue(code, generation)
    with run.db.read() as session:
        return service.get_job(session, principal.org, code)
