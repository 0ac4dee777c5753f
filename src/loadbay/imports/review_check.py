"""The review's row check: the import's own validator, its reasons turned into typed
issues (column, field, code, message, suggestion, severity), and the forecast.

The validator is `compile_batch_validator`, the one the chunks use at commit, so the
preview and the import cannot disagree about a row. What is added here only
describes its answer: a code per reason, a suggested value where one exists, and a
warning where a value was normalised (an option written in another case or with
spaces around it is stored in the option's own spelling).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection

from loadbay.catalog.fields import FieldSpec, cell_text
from loadbay.imports import writes
from loadbay.imports.target import Target
from loadbay.imports.validate import compile_batch_validator
from loadbay.imports.values import rules_of
from loadbay.settings import get_settings

Issue = dict[str, Any]  # row_number, column, field, code, message, value, suggestion, severity
_NOISE = re.compile(r"[\s\W_]+")

REASONS = {
    "required": "required value missing",
    "duplicate": "duplicate key in the file",
    "option": "not one of the options",
}


def reason_of(code: str) -> str:
    """The grouped errors' `reason`: the same words for every cell of one kind."""
    if code in REASONS:
        return REASONS[code]
    return f"not a valid {code.removeprefix('invalid_')}"


@dataclass(slots=True)
class RowResult:
    row_number: int
    issues: list[Issue] = field(default_factory=list)
    values: dict[str, Any] | None = None  # None: the row is invalid

    @property
    def valid(self) -> bool:
        return self.values is not None


def _suggest(spec: FieldSpec, text: str) -> str | None:
    """A close option for a misspelt one (case, spaces, punctuation, close spelling)."""
    if spec.type != "option" or not spec.options:
        return None
    wanted = _NOISE.sub("", text).casefold()
    for option in spec.options:
        if _NOISE.sub("", option).casefold() == wanted:
            return option
    close = difflib.get_close_matches(text.casefold(), [o.casefold() for o in spec.options], 1)
    if close:
        return next(o for o in spec.options if o.casefold() == close[0])
    return None


class RowChecker:
    """Checks rows of one file against one target with one mapping."""

    def __init__(
        self, target: Target, headers: Sequence[str], columns: dict[str, int], job: Any
    ) -> None:
        self.target, self.headers, self.columns = target, list(headers), dict(columns)
        # valueMap / locale live in job.options and reach the validator the commit uses
        # (`rules_of`), so the review and the import read every value the same way.
        self.validate = compile_batch_validator(
            target, headers, columns, get_settings().date_formats, **rules_of(job)
        )
        self.field_of = {headers[c]: f for f, c in columns.items()}
        self.spec_of = {s.id: s for s in target.specs}
        self.options = [
            (s.id, columns[s.id], headers[columns[s.id]])
            for s in target.specs
            if s.type == "option" and s.id in columns
        ]
        self.required = {f"{headers[c]} is required" for c in columns.values()}
        pk = target.primary_key or "dataId"
        self.match = job.match_field or (pk if target.kind == "datasource" else None)
        self.key_col = columns.get(self.match) if self.match else None

    def key_of(self, cells: Sequence[Any]) -> str | None:
        if self.key_col is None or self.key_col >= len(cells):
            return None
        value = cells[self.key_col]
        return None if value in (None, "") else cell_text(value)

    def check(
        self, rows: Sequence[tuple[int, list[Any]]], dupes: dict[int, int] | None = None
    ) -> list[RowResult]:
        dupes = dupes or {}
        results = []
        for checked in self.validate(rows):
            result = RowResult(checked.row_number)
            cells = checked.cells
            for reason in checked.reasons:
                result.issues.append(self._error(reason, cells))
            first = dupes.get(checked.row_number)
            if first is not None:
                header = self.headers[self.key_col] if self.key_col is not None else ""
                result.issues.append(
                    self._issue(
                        header, "duplicate", f"duplicate of row {first}", cells, "error", None
                    )
                )
            if not result.issues:
                result.values = checked.values
            for fid, col, header in self.options:
                value = checked.values.get(fid)
                text = cells[col] if col < len(cells) else None
                if value is not None and text.__class__ is str and text != value:
                    message = f"{header}: '{text}' read as '{value}'"
                    result.issues.append(
                        self._issue(header, "normalised", message, cells, "warning", value)
                    )
            results.append(result)
        return results

    def _error(self, reason: dict[str, str], cells: Sequence[Any]) -> Issue:
        header, message = reason["column"], reason["message"]
        fid = self.field_of.get(header)
        spec = self.spec_of.get(fid or "")
        if message in self.required:
            code = "required"
        elif spec is not None and spec.type == "option":
            code = "option"
        else:
            code = f"invalid_{spec.type if spec is not None else 'value'}"
        issue = self._issue(header, code, message, cells, "error", None)
        if spec is not None and issue["value"]:
            issue["suggestion"] = _suggest(spec, issue["value"])
        return issue

    def _issue(
        self,
        header: str,
        code: str,
        message: str,
        cells: Sequence[Any],
        severity: str,
        suggestion: str | None,
    ) -> Issue:
        col = self.headers.index(header) if header in self.headers else None
        raw = cells[col] if col is not None and col < len(cells) else None
        return {
            "row_number": 0,
            "column": header,
            "field": self.field_of.get(header),
            "code": code,
            "message": message,
            "value": None if raw is None else cell_text(raw),
            "suggestion": suggestion,
            "severity": severity,
        }

    def forecast(self, conn: Connection, job: Any, results: Sequence[RowResult]) -> dict[int, str]:
        """create | update | skip for each valid row, by looking its key up (one query
        per batch), in the job's import mode, as the commit's write step decides."""
        valid = [r for r in results if r.values is not None]
        if not valid:
            return {}
        mode = job.import_mode
        if not self.match:  # tasks without a match field: every row is new
            return {r.row_number: "create" for r in valid}
        # every valid row has a key slot, even one with no field mapped (values == {})
        keys = [writes._match_key((r.values or {}).get(self.match)) for r in valid]
        target = self.target
        if target.kind == "datasource":
            table = writes.records
            scope: list[Any] = [
                table.c.organization_id == job.organization_id,
                table.c.data_type_id == target.id,
                table.c.scope == ("" if target.common_data else (job.hub_id or "")),
            ]
            pk = target.primary_key or "dataId"
            if self.match == "_id":
                column = table.c.id
            elif self.match == pk:
                column = table.c.data_id
            else:
                column = writes._json_text(conn, table, self.match)
        else:
            table = writes.tasks
            scope = [table.c.organization_id == job.organization_id, table.c.flow_id == target.id]
            if self.match == "_id":
                column = table.c.id
            elif self.match in writes._TASK_COLUMNS:
                column = table.c[writes._TASK_COLUMNS[self.match]]
            else:
                column = writes._json_text(conn, table, self.match)
        found = writes._lookup(conn, table, scope, column, keys, column)
        out: dict[int, str] = {}
        for row, key in zip(valid, keys, strict=True):
            ids = found.get(key, [])
            if len(ids) == 1 and mode != "CreateOnly":
                out[row.row_number] = "update"
            elif ids or mode == "UpdateOnly" or self.match == "_id":
                out[row.row_number] = "skip"
            else:
                out[row.row_number] = "create"
        return out
