"""How a job reads its values: the locale rules and the value map, chosen once at upload
(or confirm) and kept in the job's `options`, so every step reads a cell the same way.

`options["locale"]`: the rules (`ValueLocale.as_options()`), absent without a locale.
`options["valueMap"]`: `{fieldId: {from: to}}`. `options["useMemory"]`: the plan step
fills a mapping and value map the upload did not give from earlier confirmed jobs.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from loadbay.catalog.fields import FieldSpec, Invalid, cell_text, converter_for
from loadbay.catalog.locale_fields import locale_converter
from loadbay.catalog.locales import ALL_NO, ALL_YES, ValueLocale
from loadbay.catalog.org_settings import locale_for
from loadbay.errors import BadRequest
from loadbay.imports.mapping import norm, resolve_mapping
from loadbay.imports.models import ImportJob
from loadbay.imports.queries import earlier_jobs
from loadbay.imports.target import Target
from loadbay.storage import Storage, get_storage
from loadbay.tabular.readers import open_table

TRUE_WORDS = ("true", "1", "yes", "on", "y")
MAX_PAIRS = 1000  # per field: a value map is a correction list, not a second data file
Rules = dict[str, Any]


def flag(value: str | None, default: bool) -> bool:
    if value is None or not value.strip():
        return default
    return value.strip().lower() in TRUE_WORDS


def upload_options(
    session: Session, org: str, fields: Mapping[str, str], *, by_default: bool
) -> dict[str, Any]:
    """The `locale` and `useMemory` form fields as job options. `by_default`: the
    import-job flow (and the console, the CLI) applies the organisation's locale and
    the memory unless told not to; the vendor endpoints only when the request asks."""
    out: dict[str, Any] = {}
    loc = locale_for(session, org, (fields.get("locale") or "").strip() or None, by_default)
    if loc is not None:
        out["locale"] = loc.as_options()
    if flag(fields.get("useMemory"), by_default):
        out["useMemory"] = True
    return out


def rules_of(job: ImportJob) -> Rules:
    """The keyword arguments of `compile_batch_validator` for this job."""
    options = job.options or {}
    raw = options.get("locale")
    return {
        "locale": ValueLocale.from_options(raw) if isinstance(raw, dict) else None,
        "value_map": options.get("valueMap") or None,
    }


def parse_value_map(raw: Any, target: Target, rules: Rules | None = None) -> dict[str, Any]:
    """`valueMap` from a request: `{fieldId: {from: to}}`. Each `to` must fit its field
    (as the job reads values), so a map never turns a bad value into another bad one.
    Raises a 400 `import-003` naming every problem."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise BadRequest("import-003", "valueMap must be an object {fieldId: {from: to}}")
    specs = {s.id: s for s in target.specs}
    loc = (rules or {}).get("locale")
    problems: list[str] = []
    out: dict[str, dict[str, str]] = {}
    for fid, pairs in raw.items():
        spec = specs.get(fid)
        if spec is None:
            problems.append(f"valueMap names an unknown field '{fid}'")
            continue
        if not isinstance(pairs, dict) or len(pairs) > MAX_PAIRS:
            problems.append(f"valueMap.{fid} must be an object of at most {MAX_PAIRS} pairs")
            continue
        convert = locale_converter(spec, (), loc) if loc else converter_for(spec)
        clean: dict[str, str] = {}
        for source, to in pairs.items():
            if not isinstance(to, str):
                problems.append(f"valueMap.{fid}['{source}'] must be a text value")
                continue
            try:
                if to.strip():
                    convert(to)
            except Invalid as exc:
                problems.append(f"valueMap.{fid}['{source}'] → '{to}': {exc}")
                continue
            clean[str(source).strip()] = to
        if clean:
            out[fid] = clean
    if problems:
        raise BadRequest("import-003", "; ".join(problems))
    return out


def remembered_value_map(session: Session, org: str, target: Target) -> dict[str, Any]:
    """The value maps of this organisation's confirmed jobs for the same target, merged
    newest first (a newer pair wins)."""
    found = earlier_jobs(session, org, target, ImportJob.options)
    merged: dict[str, dict[str, str]] = {}
    known = {s.id for s in target.specs}
    for options in found:
        for fid, pairs in ((options or {}).get("valueMap") or {}).items():
            if fid in known and isinstance(pairs, dict):
                for source, to in pairs.items():
                    merged.setdefault(fid, {}).setdefault(source, to)
    return merged


# ---- values that do not fit ---------------------------------------------------------------

MAPPABLE = ("option", "boolean")
MAX_DISTINCT = 500  # per field: past it the rest are counted under the values seen so far


def suggest_value(text: str, spec: FieldSpec) -> str | None:
    """The option (or yes/no) a bad value most likely means: the same letters ignoring
    case, spaces and punctuation, else the closest spelling; None when nothing is close."""
    if spec.type == "boolean":
        folded = text.strip().casefold()
        if folded in ALL_YES:
            return "true"
        if folded in ALL_NO:
            return "false"
        return None
    wanted = norm(text)
    if not wanted:
        return None
    by_norm = {norm(o): o for o in spec.options}
    if wanted in by_norm:
        return by_norm[wanted]
    close = difflib.get_close_matches(wanted, list(by_norm), n=1, cutoff=0.75)
    if close:
        return by_norm[close[0]]
    # "Toko Kelontong" for "Kelontong": an option whole inside the value, or the reverse
    inside = [o for n, o in by_norm.items() if len(n) >= 4 and (n in wanted or wanted in n)]
    return inside[0] if len(inside) == 1 else None


def distinct_bad_values(
    job: ImportJob, target: Target, field: str | None = None, storage: Storage | None = None
) -> list[dict[str, Any]]:
    """`[{field, value, count, suggestion}]`: every distinct value of an option or yes/no
    column that its field does not take (after the job's value map), most frequent first,
    read from the whole file (in `storage`, the caller's app's; the process's when not
    given) with the reader the import uses. A blank shows as "" where the field is
    required."""
    from loadbay.imports.limits import limits

    rules = rules_of(job)
    loc = rules["locale"]
    value_map: dict[str, dict[str, str]] = rules["value_map"] or {}
    specs = [s for s in target.specs if s.type in MAPPABLE and (field is None or s.id == field)]
    if field is not None and not specs:
        raise BadRequest(
            "import-003", f"field '{field}' is not an option or yes/no field of this import"
        )
    options = job.options or {}
    counts: dict[str, Counter[str]] = {s.id: Counter() for s in specs}
    with (
        (storage or get_storage()).local_copy(job.file_key) as path,
        open_table(
            path,
            job.file_format,
            has_header_row=job.has_header_row,
            sheet=job.sheet_name,
            limits=limits(),
            dates_as_text=True,
            header_row=options.get("headerRow"),
        ) as table,
    ):
        resolved = resolve_mapping(table.headers, target.specs, job.mapping, strict=False)
        wanted = [(s, resolved.columns[s.id]) for s in specs if s.id in resolved.columns]
        for _number, cells in table.rows():
            for spec, col in wanted:
                value = cells[col] if col < len(cells) else None
                key = "" if value is None else cell_text(value).strip()
                seen = counts[spec.id]
                if key in seen or len(seen) < MAX_DISTINCT:
                    seen[key] += 1
    out: list[dict[str, Any]] = []
    for spec, _col in wanted:
        convert = locale_converter(spec, (), loc) if loc else converter_for(spec)
        pairs = value_map.get(spec.id) or {}
        for text, count in counts[spec.id].most_common():
            mapped = pairs.get(text, text)
            if not mapped.strip():
                if spec.required:
                    out.append(
                        {"field": spec.id, "value": text, "count": count, "suggestion": None}
                    )
                continue
            try:
                convert(mapped)
            except Invalid:
                out.append(
                    {
                        "field": spec.id,
                        "value": text,
                        "count": count,
                        "suggestion": suggest_value(mapped, spec),
                    }
                )
    return out
