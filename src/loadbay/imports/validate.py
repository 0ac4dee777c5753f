"""Row validation: every cell of a row against its field, every reason kept by column.

The same function serves the import chunks and the preview.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from loadbay.catalog.fields import Invalid, converter_for
from loadbay.imports.target import Target

Reason = dict[str, str]  # {"column": header, "message": why}


@dataclass(frozen=True)
class Checked:
    row_number: int
    cells: list[Any]
    values: dict[str, Any]
    reasons: list[Reason]


def compile_validator(
    target: Target,
    headers: Sequence[str],
    columns: dict[str, int],
    date_formats: Sequence[str],
) -> Callable[[int, list[Any]], Checked]:
    """A fast row checker for one job: the per-field work is resolved once, here."""
    plan: list[tuple[str, int, Callable[[Any], Any], bool, str]] = []
    for spec in target.specs:
        col = columns.get(spec.id)
        if col is None:
            continue
        plan.append((spec.id, col, converter_for(spec, date_formats), spec.required, headers[col]))
    id_col = columns.get("_id")

    def check(row_number: int, cells: list[Any]) -> Checked:
        values: dict[str, Any] = {}
        reasons: list[Reason] = []
        for fid, col, convert, required, header in plan:
            value = cells[col]
            if value is None or (value.__class__ is str and (not value or value.isspace())):
                if required:
                    reasons.append({"column": header, "message": f"{header} is required"})
                else:
                    values[fid] = None
                continue
            try:
                values[fid] = convert(value)
            except Invalid as exc:
                reasons.append({"column": header, "message": f"{header}: {exc}"})
        if id_col is not None and cells[id_col] not in (None, ""):
            values["_id"] = str(cells[id_col]).strip()
        return Checked(row_number, cells, values, reasons)

    return check
