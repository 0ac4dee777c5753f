"""Header → field mapping: exact ids or titles first (ignoring case, spaces and
punctuation), then from the organisation's earlier mappings, then by closeness of
spelling, then by the words of the names ("Outlet Name" → Name)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from loadbay.catalog.fields import FieldSpec
from loadbay.errors import BadRequest

_NOISE = re.compile(r"[\W_]+", re.UNICODE)


def norm(text: str) -> str:
    return _NOISE.sub("", text).casefold()


# Columns loadbay writes into its own exports: ignored quietly on re-import (still listed).
EXPORT_COLUMNS = frozenset(("_id", "createdTime", "updatedTime", "createdBy", "updatedBy", "hub"))
UNMAPPED_POLICIES = ("ignore", "error")


# Words that name no field on their own ("No" is a row-number column, not "Owner Phone No.").
_FILLER = frozenset(("a", "an", "and", "of", "or", "the", "to", "for", "in", "on", "by", "at",
                     "no", "nr", "nbr", "num", "number", "yang", "dan", "di", "ke"))  # fmt: skip


def _words(text: str) -> frozenset[str]:
    return frozenset(w for w in _NOISE.split(text.casefold()) if w and w not in _FILLER)


def suggest(
    headers: Sequence[str],
    specs: Sequence[FieldSpec],
    history: Sequence[Sequence[dict[str, Any]]] = (),
    cutoff: float = 0.8,
    *,
    similar: bool = True,
) -> dict[str, str]:
    """field id → header column. Each header is used at most once."""
    return _suggest(headers, specs, history, cutoff, similar=similar)[0]


def _suggest(
    headers: Sequence[str],
    specs: Sequence[FieldSpec],
    history: Sequence[Sequence[dict[str, Any]]] = (),
    cutoff: float = 0.8,
    *,
    similar: bool = True,
) -> tuple[dict[str, str], dict[str, str]]:
    """(field id → header, header → how it was found: exact|normalised|memory|words).
    `similar`: also match by the words of the names (`_by_words`)."""
    by_norm: dict[str, str] = {}
    for header in headers:
        by_norm.setdefault(norm(header), header)
    taken: set[str] = set()
    result: dict[str, str] = {}
    sources: dict[str, str] = {}
    for spec in specs:  # 1. exact (normalised) id or title
        for candidate in (spec.id, spec.title):
            exact = by_norm.get(norm(candidate))
            if exact is not None and exact not in taken:
                result[spec.id] = exact
                taken.add(exact)
                sources[exact] = "exact" if exact in (spec.id, spec.title) else "normalised"
                break
    for mapping in history:  # 2. what this organisation mapped before, newest first
        for item in mapping:
            fid, old = str(item.get("id")), str(item.get("headerColumn"))
            if fid in result or old not in headers or old in taken:
                continue
            if any(s.id == fid for s in specs):
                result[fid] = old
                taken.add(old)
                sources[old] = "memory"
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
                sources[header] = "normalised"
                break
    if similar:
        for header, fid in _by_words(headers, specs, taken | set(result.values()), result):
            result[fid] = header
            sources[header] = "words"
    return result, sources


def _by_words(
    headers: Sequence[str], specs: Sequence[FieldSpec], taken: set[str], mapped: dict[str, str]
) -> list[tuple[str, str]]:
    """(header, field id) where the header's words hold all of the field title's words
    or the other way round ("Outlet Name" and Name, "Phone" and Owner Phone No.), that
    field is the only unmapped one the header matches, and no other header matches only
    it: a guess with a rival is left to the person mapping."""
    fields = [(s.id, _words(s.title)) for s in specs if s.id not in mapped]
    found: dict[str, list[str]] = {}  # field id → headers that match it alone
    for header in headers:
        if header in taken or header in EXPORT_COLUMNS or not header:
            continue
        words = _words(header)
        if not words:
            continue
        matches = [fid for fid, title in fields if title and (title <= words or words <= title)]
        if len(matches) == 1:
            found.setdefault(matches[0], []).append(header)
    return [(hs[0], fid) for fid, hs in found.items() if len(hs) == 1]


@dataclass(frozen=True)
class Resolution:
    """Where every column of the file goes: a field, or ignored (and why)."""

    headers: list[str]
    columns: dict[str, int]  # field id → column index, in the mapping's order
    ignored: list[str]  # headers, in file order
    why: dict[str, str]  # ignored header → "ignore" (asked) | "export" | "unmapped"
    missing_required: list[str]  # required field ids with no column
    sources: dict[str, str] = field(default_factory=dict)  # header → exact|normalised|...

    @property
    def unmapped(self) -> list[str]:
        """Columns neither mapped nor asked to be ignored (loadbay's own export columns
        are not among them)."""
        return [h for h in self.ignored if self.why[h] == "unmapped"]

    def items(self) -> list[dict[str, str]]:
        return [{"id": f, "headerColumn": self.headers[c]} for f, c in self.columns.items()]


def resolve_mapping(
    headers: Sequence[str],
    specs: Sequence[FieldSpec],
    mapping: Sequence[dict[str, Any]] | None = None,
    *,
    preset: Sequence[dict[str, Any]] | None = None,
    history: Sequence[Sequence[dict[str, Any]]] = (),
    unmapped: str = "ignore",
    strict: bool = True,
    similar: bool = True,
) -> Resolution:
    """The one place a file's columns are matched to fields, for the preview, the
    confirm, the vendor uploads and the plan step.

    `mapping` is explicit (items `{id, headerColumn}` or `{headerColumn, ignore: true}`);
    without it a `preset` (an import config) is used where its columns exist, else
    automatic matching with `history` (earlier mappings). `strict` (confirm, plan)
    raises a 400 for a required field without a column and, with `unmapped="error"`,
    for a column neither mapped nor ignored; the preview reports both instead.
    A conflicting explicit mapping is always a 400 naming every conflict. `similar`:
    automatic matching also goes by the words of the names (a suggestion for a person
    to confirm: the import-job flow; the vendor's uploads keep to exact and close
    spellings, see `resolve_for_job`)."""
    headers = list(headers)
    ignored_asked: set[int] = set()
    sources: dict[str, str] = {}
    if mapping:
        columns, ignored_asked = _explicit(headers, specs, mapping)
    elif preset:
        columns = {}
        for item in preset:
            col = _column(headers, str(item.get("headerColumn")))
            fid = item.get("id")
            fresh = col is not None and col not in columns.values()
            if fresh and isinstance(fid, str) and fid not in columns:
                assert col is not None
                columns[fid] = col
                sources[headers[col]] = "config"
    else:
        chosen, sources = _suggest(headers, specs, history, similar=similar)
        index = {h: i for i, h in enumerate(headers)}
        columns = {s.id: index[chosen[s.id]] for s in specs if s.id in chosen}
        if "_id" in index:  # the record's own id: a match key when matchField is _id
            columns["_id"] = index["_id"]
    used = set(columns.values())
    ignored: list[str] = []
    why: dict[str, str] = {}
    for i, header in enumerate(headers):
        if i in used or not header:
            continue
        ignored.append(header)
        if i in ignored_asked:
            why[header] = "ignore"
        elif header in EXPORT_COLUMNS:
            why[header] = "export"
        else:
            why[header] = "unmapped"
    missing = [s for s in specs if s.required and s.id not in columns]
    result = Resolution(headers, columns, ignored, why, [s.id for s in missing], sources)
    if strict and missing:
        names = ", ".join(f"{s.title} ({s.id})" if s.title != s.id else s.id for s in missing)
        raise BadRequest("import-001", f"Required column(s) not found in the file: {names}")
    if strict and unmapped == "error" and result.unmapped:
        listed = ", ".join(f"'{h}'" for h in result.unmapped)
        raise BadRequest(
            "import-003",
            f"Column(s) neither mapped nor ignored: {listed}. Map each to a field, add "
            '{"headerColumn": ..., "ignore": true}, or confirm with unmappedColumns=ignore',
        )
    return result


def _column(headers: list[str], header: str) -> int | None:
    if header in headers:
        return headers.index(header)
    wanted = norm(header)
    return next((i for i, h in enumerate(headers) if norm(h) == wanted), None)


def _explicit(
    headers: list[str], specs: Sequence[FieldSpec], mapping: Sequence[dict[str, Any]]
) -> tuple[dict[str, int], set[int]]:
    known = {s.id for s in specs} | {"_id"}
    problems: list[str] = []
    columns: dict[str, int] = {}
    ignored: set[int] = set()
    users: dict[int, list[str]] = {}
    named: dict[str, int] = {}
    for item in mapping:
        header = item.get("headerColumn")
        ignore = item.get("ignore") is True
        fid = item.get("id")
        if not ignore and (not isinstance(fid, str) or fid not in known):
            problems.append(f"Mapping names an unknown field '{fid}'")
            continue
        if not isinstance(header, str):
            problems.append(f"Mapping for '{fid}' has no headerColumn")
            continue
        col = _column(headers, header)
        if col is None:
            problems.append(f"Mapped column '{header}' is not in the file")
            continue
        users.setdefault(col, []).append("(ignored)" if ignore else str(fid))
        if ignore:
            ignored.add(col)
            continue
        assert isinstance(fid, str)
        named[fid] = named.get(fid, 0) + 1
        columns.setdefault(fid, col)
    for fid, count in named.items():
        if count > 1:
            feeding = [headers[c] for f, c in _pairs(headers, mapping) if f == fid]
            problems.append(f"Field '{fid}' is named twice (columns {', '.join(feeding)})")
    for col, fields in users.items():
        if len(fields) > 1:
            problems.append(f"Column '{headers[col]}' is used twice (for {', '.join(fields)})")
    if problems:
        raise BadRequest("import-003", "; ".join(problems))
    return columns, ignored


def _pairs(headers: list[str], mapping: Sequence[dict[str, Any]]) -> list[tuple[str, int]]:
    out = []
    for item in mapping:
        col = _column(headers, str(item.get("headerColumn")))
        if col is not None and item.get("ignore") is not True:
            out.append((str(item.get("id")), col))
    return out


def resolve_for_job(
    headers: Sequence[str],
    specs: Sequence[FieldSpec],
    mapping: Sequence[dict[str, Any]] | None,
    options: dict[str, Any] | None,
    *,
    history: Sequence[Sequence[dict[str, Any]]] = (),
) -> Resolution:
    """The plan step's resolution: the job's stored mapping, the columns confirmed as
    ignored, and its unmappedColumns rule (`ignore` unless the upload said otherwise).
    A job without a mapping came from the vendor's upload, which no person confirmed:
    its columns are matched without guessing from words (DECISIONS: vendor endpoints
    stay predictable)."""
    options = options or {}
    items = list(mapping or [])
    if items:
        listed = set(headers)
        items += [
            {"headerColumn": h, "ignore": True}
            for h in options.get("ignoredColumns") or []
            if h in listed and h not in {i.get("headerColumn") for i in items}
        ]
    return resolve_mapping(
        headers,
        specs,
        items or None,
        history=history,
        unmapped=str(options.get("unmappedColumns") or "ignore"),
        similar=False,
    )
