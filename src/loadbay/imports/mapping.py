"""Header → field mapping: exact ids or titles first (ignoring case, spaces and
punctuation), then by closeness, then from the organisation's earlier mappings."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from typing import Any

from loadbay.catalog.fields import FieldSpec
from loadbay.errors import BadRequest

_NOISE = re.compile(r"[\W_]+", re.UNICODE)


def norm(text: str) -> str:
    return _NOISE.sub("", text).casefold()


def suggest(
    headers: Sequence[str],
    specs: Sequence[FieldSpec],
    history: Sequence[Sequence[dict[str, Any]]] = (),
    cutoff: float = 0.8,
) -> dict[str, str]:
    """field id → header column. Each header is used at most once."""
    by_norm: dict[str, str] = {}
    for header in headers:
        by_norm.setdefault(norm(header), header)
    taken: set[str] = set()
    result: dict[str, str] = {}
    for spec in specs:  # 1. exact (normalised) id or title
        for candidate in (spec.id, spec.title):
            exact = by_norm.get(norm(candidate))
            if exact is not None and exact not in taken:
                result[spec.id] = exact
                taken.add(exact)
                break
    for mapping in history:  # 2. what this organisation mapped before, newest first
        for item in mapping:
            fid, old = str(item.get("id")), str(item.get("headerColumn"))
            if fid in result or old not in headers or old in taken:
                continue
            if any(s.id == fid for s in specs):
                result[fid] = old
                taken.add(old)
    free = {norm(h): h for h in headers if h not in taken}
    for spec in specs:  # 3. close enough
        if spec.id in result:
            continue
        for candidate in (spec.title, spec.id):
            close = difflib.get_close_matches(norm(candidate), list(free), n=1, cutoff=cutoff)
            if close:
                header = free.pop(close[0])
                result[spec.id] = header
                taken.add(header)
                break
    return result


def resolve(
    headers: Sequence[str],
    specs: Sequence[FieldSpec],
    mapping: Sequence[dict[str, Any]] | None,
) -> dict[str, int]:
    """field id → column index, from an explicit mapping or by automatic matching.

    Raises BadRequest naming what is wrong; a missing required column is reported
    with every missing field at once."""
    index = {h: i for i, h in reversed(list(enumerate(headers)))}
    normalised = {norm(h): i for i, h in reversed(list(enumerate(headers)))}
    columns: dict[str, int] = {}
    if mapping:
        known = {s.id for s in specs} | {"_id"}
        for item in mapping:
            fid, header = item.get("id"), item.get("headerColumn")
            if not isinstance(fid, str) or fid not in known:
                raise BadRequest("import-003", f"Mapping names an unknown field '{fid}'")
            if not isinstance(header, str):
                raise BadRequest("import-003", f"Mapping for '{fid}' has no headerColumn")
            col = index.get(header, normalised.get(norm(header)))
            if col is None:
                raise BadRequest("import-003", f"Mapped column '{header}' is not in the file")
            columns[fid] = col
    else:
        columns = {fid: index[h] for fid, h in suggest(headers, specs).items()}
        if "_id" in index:
            columns["_id"] = index["_id"]
    missing = [s for s in specs if s.required and s.id not in columns]
    if missing:
        names = ", ".join(f"{s.title} ({s.id})" if s.title != s.id else s.id for s in missing)
        raise BadRequest("import-001", f"Required column(s) not found in the file: {names}")
    return columns
