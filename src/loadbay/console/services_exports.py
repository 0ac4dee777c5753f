"""The console's door into exports, export configs and the organisation's settings.

Beside `services` (which the import wizard owns) so the two can change apart; like it,
this calls the same service functions the JSON API calls and never the API itself, with
what the app was built with, handed in by the route.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loadbay.auth import Principal
from loadbay.catalog import org_settings
from loadbay.catalog.locales import DATE_ORDERS, SUPPORTED
from loadbay.catalog.models import TASK_STATUSES, Hub, Organization
from loadbay.deps import Runtime
from loadbay.errors import ApiError, BadRequest, NotFound
from loadbay.exports import configs as export_configs
from loadbay.exports import service as export_service
from loadbay.exports.models import ExportConfig, ExportLog
from loadbay.exports.plan import Column, build_plan
from loadbay.exports.schemas import ExportRequest
from loadbay.imports.target import Target
from loadbay.storage import Storage, content_disposition, content_type_for

STATUS_WORDS = {"UNASSIGNED": "Unassigned", "ONGOING": "Ongoing", "DONE": "Done"}
DATE_ORDER_WORDS = {"DMY": "Day first (31/12/2024)", "MDY": "Month first (12/31/2024)",
                    "YMD": "Year first (2024-12-31)"}  # fmt: skip
SEPARATOR_WORDS = {".": "Point (.)", ",": "Comma (,)", " ": "Space", "'": "Apostrophe (')",
                   "\u00a0": "No-break space", "\u202f": "Narrow no-break space",
                   "": "None"}  # fmt: skip


@dataclass
class ExportChoice:
    """What the export form holds: the fields picked and the filters set."""

    fields: list[str] | None = None  # None: all of them (a fresh form)
    fmt: str = "xlsx"
    hub: str = ""
    statuses: list[str] = field(default_factory=list)
    assignee: str = ""
    done_by: str = ""

    @classmethod
    def of_form(cls, values: dict[str, list[str]]) -> ExportChoice:
        def one(name: str) -> str:
            return (values.get(name) or [""])[0].strip()

        return cls(
            fields=values.get("fields") or [],
            fmt=one("format") or "xlsx",
            hub=one("hub"),
            statuses=[s for s in values.get("status") or [] if s in TASK_STATUSES],
            assignee=one("assignee"),
            done_by=one("doneBy"),
        )


def columns(session: Session, org: str, tgt: Target) -> list[Column]:
    """Every column an export of `tgt` can have, in the API's default order, except that
    a data type's own fields lead (the file's columns follow the order picked)."""
    found = build_plan(session, org, _request(tgt, ExportChoice(fields=[]))).columns
    if tgt.kind == "task":
        return list(found)
    return sorted(found, key=lambda c: c.source not in ("data", "data_id"))


def hubs(session: Session, org: str) -> list[Hub]:
    return list(
        session.scalars(sa.select(Hub).where(Hub.organization_id == org).order_by(Hub.name))
    )


def _request(tgt: Target, choice: ExportChoice, background: bool = False) -> ExportRequest:
    task = tgt.kind == "task"
    return ExportRequest(
        kind="task" if task else "data",
        download=choice.fmt,
        fields=tuple(choice.fields or ()) or None,
        data_type_id=None if task else tgt.id,
        flow_ids=(tgt.id,) if task else None,
        hub_id=choice.hub or None,
        statuses=tuple(choice.statuses) if task else (),
        assignee=(choice.assignee or None) if task else None,
        done_by=(choice.done_by or None) if task else None,
        background=background,
    )


async def export(
    principal: Principal, tgt: Target, choice: ExportChoice, run: Runtime
) -> ExportLog:
    """Write a small export now, or queue a larger one (the console's limit); the log
    entry, Done for a direct export. A direct export that finds every slot taken goes
    to the background instead of failing."""
    from starlette.concurrency import run_in_threadpool

    db, settings = run.db, run.settings
    req = _request(tgt, choice)
    plan, rows = await run_in_threadpool(export_service.prepare, db, principal.org, req, settings)
    if rows <= settings.console_direct_export_rows:
        try:
            done = await export_service.write_direct(db, principal, plan, req, settings)
        except ApiError as exc:
            if exc.failed_code != "export-036":
                raise
        else:
            export_service.direct_answer(plan, done)  # 500 with the reason if it failed
            assert done is not None
            return done
    answer = await export_service.export(
        principal, _request(tgt, choice, background=True), db, settings
    )
    with db.read() as session:
        entry = session.get(ExportLog, answer["data"]["_id"])
    assert entry is not None
    return entry


def finished_file(
    session: Session, principal: Principal, log_id: str, storage: Storage
) -> tuple[str, str, int]:
    """(storage key, filename, size) of one of this user's finished exports."""
    entry = session.get(ExportLog, log_id) if len(log_id) <= 64 else None
    if (
        entry is None
        or entry.organization_id != principal.org
        or entry.email.lower() != principal.email.lower()
        or entry.status != "Done"
        or not entry.file_key
    ):
        raise NotFound("export-033", "This export has no file (yet), or it is not yours.")
    return entry.file_key, entry.file_key.rsplit("/", 1)[-1], storage.size(entry.file_key)


def file_headers(filename: str, size: int) -> dict[str, str]:
    return {
        "Content-Type": content_type_for(filename),
        "Content-Disposition": content_disposition(filename),
        "Content-Length": str(size),
    }


# ---- export configs ----------------------------------------------------------------------


def configs_for(session: Session, org: str, tgt: Target) -> list[ExportConfig]:
    """Saved field choices that fit `tgt`: its collection, and its data type or flow (or
    none named)."""
    found = session.scalars(
        sa.select(ExportConfig)
        .where(
            ExportConfig.organization_id == org,
            ExportConfig.collection == ("task" if tgt.kind == "task" else "data"),
        )
        .order_by(ExportConfig.name)
    )
    if tgt.kind == "task":
        return [c for c in found if not c.flow_ids or tgt.id in c.flow_ids]
    return [c for c in found if c.data_type_id in (None, tgt.id)]


def config_fields(session: Session, org: str, config_id: str) -> tuple[str, list[str]]:
    """A saved config's name and field ids."""
    config = session.get(ExportConfig, config_id) if len(config_id) <= 64 else None
    if config is None or config.organization_id != org:
        raise NotFound("export-033", "This saved field choice no longer exists.")
    return config.name, [str(f.get("id")) for f in config.fields or [] if f.get("id")]


def save_config(
    session: Session, principal: Principal, tgt: Target, name: str, fields: list[str]
) -> str:
    """Save the picked fields under `name` (the export-config rules: a name once per
    organisation); the config's id."""
    if not fields:
        raise BadRequest("export-001", "Pick at least one field to save.")
    by_id = {c.id: c for c in columns(session, principal.org, tgt)}
    body: dict[str, Any] = {
        "name": name,
        "collection": "task" if tgt.kind == "task" else "data",
        "fields": [
            {"component": "input", "id": f, "title": by_id[f].title, "inputType": by_id[f].kind}
            for f in fields
            if f in by_id
        ],
    }
    if tgt.kind == "task":
        body["flowIds"] = [tgt.id]
    else:
        body["dataTypeId"] = tgt.id
    config = ExportConfig(organization_id=principal.org, created_by=principal.email)
    export_configs.apply(session, principal.org, config, body, creating=True)
    session.add(config)
    session.flush()
    return config.id


# ---- organisation settings ----------------------------------------------------------------


def org_values(session: Session, org: str) -> dict[str, Any]:
    return org_settings.read(session, org)


def save_org_values(session: Session, org: str, values: dict[str, str]) -> dict[str, Any]:
    """Apply a settings form (the rules of PUT /organization/settings; 400 naming the
    setting). Separators, date order and currency symbols the form leaves as they were
    follow a newly chosen locale."""
    current = org_settings.read(session, org)
    payload: dict[str, Any] = {"locale": values.get("locale") or None}
    new_locale = (payload["locale"] or None) != current["locale"]
    for key in ("decimalSeparator", "thousandsSeparator", "dateOrder"):
        if key in values and not (new_locale and values[key] == current[key]):
            payload[key] = values[key]
    if "currencySymbols" in values:
        symbols = [s.strip() for s in values["currencySymbols"].split(",") if s.strip()]
        if not (new_locale and symbols == current["currencySymbols"]):
            payload["currencySymbols"] = symbols
    chunks = values.get("maxConcurrentChunks", "").strip()
    if chunks.isdigit():
        payload["maxConcurrentChunks"] = int(chunks)
    elif chunks:
        raise BadRequest(org_settings.CODE, "maxConcurrentChunks must be a whole number")
    elif "maxConcurrentChunks" in values:
        payload["maxConcurrentChunks"] = None
    changed = org_settings.parse(payload, current)
    found = session.get(Organization, org)
    if found is None:
        raise NotFound("organization-004", "Organisation not found")
    found.settings = changed
    return changed


LOCALE_NAMES = {
    "de-DE": "German (Germany)", "en-AU": "English (Australia)", "en-GB": "English (UK)",
    "en-IN": "English (India)", "en-PH": "English (Philippines)", "en-SG": "English (Singapore)",
    "en-US": "English (US)", "es-ES": "Spanish (Spain)", "fr-FR": "French (France)",
    "id-ID": "Indonesian (Indonesia)", "it-IT": "Italian (Italy)", "ja-JP": "Japanese (Japan)",
    "ms-MY": "Malay (Malaysia)", "nl-NL": "Dutch (Netherlands)", "pt-BR": "Portuguese (Brazil)",
    "th-TH": "Thai (Thailand)", "vi-VN": "Vietnamese (Vietnam)", "zh-CN": "Chinese (China)",
}  # fmt: skip
SETTING_WORDS = {"decimalSeparator": "the decimal separator",
                 "thousandsSeparator": "the thousands separator", "dateOrder": "the date order",
                 "currencySymbols": "the currency symbols",
                 "maxConcurrentChunks": "chunks processed at once"}  # fmt: skip


def locale_choices() -> dict[str, str]:
    """Each locale loadbay reads, by tag, with its name (sorted by name)."""
    named = {tag: f"{LOCALE_NAMES.get(tag, tag)} · {tag}" for tag in SUPPORTED}
    return dict(sorted(named.items(), key=lambda item: item[1]))


def in_words(message: str) -> str:
    """A settings error as the form's labels say it, not the API's keys."""
    for key, words in SETTING_WORDS.items():
        message = message.replace(key, words)
    return message[:1].upper() + message[1:]


def shown_values(stored: dict[str, Any], form: dict[str, str]) -> dict[str, Any]:
    """What the form shows after a refused save: what was sent, else what is stored."""
    shown = dict(stored)
    for key in ("locale", "decimalSeparator", "thousandsSeparator", "dateOrder"):
        if key in form:
            shown[key] = form[key] or None if key == "locale" else form[key]
    if "currencySymbols" in form:
        shown["currencySymbols"] = [x.strip() for x in form["currencySymbols"].split(",")]
    if "maxConcurrentChunks" in form:
        shown["maxConcurrentChunks"] = form["maxConcurrentChunks"]
    return shown


def date_orders() -> dict[str, str]:
    return {k: DATE_ORDER_WORDS[k] for k in DATE_ORDERS}
