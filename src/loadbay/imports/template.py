"""The template of a data type or flow: headers in order, required ones marked,
and a second sheet describing each field."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import orjson

from loadbay.imports.target import Target
from loadbay.storage import Storage, get_storage
from loadbay.tabular.xlsx_writer import XlsxWriter, safe_sheet_name

TYPE_HINTS = {
    "string": "text",
    "number": "number, e.g. 12.5",
    "integer": "whole number",
    "boolean": "true or false",
    "date": "date, YYYY-MM-DD",
    "datetime": "date and time, YYYY-MM-DD HH:MM:SS",
    "option": "one of the options",
    "coordinate": "latitude,longitude",
    "email": "e-mail address",
    "phone": "phone number, leading zeros and + kept",
}


def header_of(title: str, required: bool) -> str:
    return f"{title} *" if required else title


def template_key(org: str, target: Target) -> str:
    # The name carries a hash of the fields, so a changed schema gets a new template.
    digest = hashlib.sha1(orjson.dumps([s.as_dict() for s in target.specs])).hexdigest()[:10]  # noqa: S324
    return f"{org}/templates/{target.kind}_{target.id}_{digest}.xlsx"


def ensure_template(org: str, target: Target, storage: Storage | None = None) -> str:
    """The template's key in `storage` (the caller's app's; the process's when not
    given), written there the first time."""
    key = template_key(org, target)
    storage = storage or get_storage()
    if storage.exists(key):
        return key
    with tempfile.TemporaryDirectory(prefix="loadbay-") as tmp:
        path = Path(tmp) / "template.xlsx"
        with XlsxWriter(path) as book:
            headers = [header_of(s.title, s.required) for s in target.specs]
            book.add_sheet(safe_sheet_name(target.name, "Data", taken=["Fields"]), headers)
            book.add_sheet("Fields", ["Column", "Field id", "Type", "Required", "Allowed values"])
            book.write_rows(
                [
                    header_of(s.title, s.required),
                    s.id,
                    TYPE_HINTS.get(s.type, s.type),
                    "yes" if s.required else "no",
                    ", ".join(s.options),
                ]
                for s in target.specs
            )
        storage.save_file(key, path)
    return key
