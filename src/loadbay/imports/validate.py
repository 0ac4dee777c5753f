"""Row validation: every cell of a row against its field, every reason kept by column.

Chunks are validated column by column: one converter mapped over a whole column
costs far less interpreter time than a loop over every (row, field) pair, and a
column without a bad cell never leaves the fast path. The preview uses the same
code on its few rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from loadbay.catalog.fields import ColumnKernel, Invalid, column_kernel, converter_for
from loadbay.imports.target import Target

Reason = dict[str, str]  # {"column": header, "message": why}
_ONLY_STR = {str}


class Required(Invalid):
    """A blank cell in a required field."""


@dataclass(slots=True)
class Checked:
    row_number: int
    cells: list[Any]
    values: dict[str, Any]
    reasons: list[Reason]


def _with_blanks(
    convert: Callable[[Any], Any], required: bool, header: str, is_text: bool
) -> Callable[[Any], Any]:
    message = f"{header} is required"

    if is_text:  # a string field: text cells pass as they are

        def text(value: Any) -> Any:
            if value.__class__ is str:
                if value and not value.isspace():
                    return value if "\x00" not in value else convert(value)
            elif value is not None:
                return convert(value)
            if required:
                raise Required(message)
            return None

        return text

    def other(value: Any) -> Any:
        if value is None or (value.__class__ is str and (not value or value.isspace())):
            if required:
                raise Required(message)
            return None
        return convert(value)

    return other


BatchValidator = Callable[[Sequence[Sequence[Any]]], list[Checked]]


def compile_batch_validator(
    target: Target,
    headers: Sequence[str],
    columns: dict[str, int],
    date_formats: Sequence[str],
) -> BatchValidator:
    """Checks many rows at once; the per-field work is resolved once, here."""
    plan: list[
        tuple[str, int, Callable[[Any], Any], str, Callable[[Any], Any], bool, ColumnKernel | None]
    ] = []
    for spec in target.specs:
        col = columns.get(spec.id)
        if col is None:
            continue
        header = headers[col]
        convert = _with_blanks(
            converter_for(spec, date_formats), spec.required, header, spec.type == "string"
        )
        raw = converter_for(spec, date_formats)
        kernel = column_kernel(spec)
        plan.append((spec.id, col, convert, header, raw, spec.type == "string", kernel))
    fids = [p[0] for p in plan]
    id_col = columns.get("_id")

    def run(rows: Sequence[Sequence[Any]]) -> list[Checked]:
        cells_list = [r[1] for r in rows]
        reasons: list[list[Reason]] = [[] for _ in rows]
        converted_columns: list[list[Any]] = []
        for _fid, col, convert, header, raw, is_text, kernel in plan:
            column = [cells[col] for cells in cells_list]
            try:
                if None in column:
                    converted = list(map(convert, column))
                elif is_text:  # all present: text passes as is unless blank or not text
                    plain = (
                        all(map(str.strip, column))
                        and "\x00" not in "".join(column)
                        and set(map(type, column)) == _ONLY_STR  # no JsonText
                    )
                    converted = column if plain else list(map(convert, column))
                else:  # all present: the column kernel, else the bare converter per cell (a
                    # blank string fails into the slow path)
                    fast = kernel(column) if kernel is not None else None
                    converted = fast if fast is not None else list(map(raw, column))
            except (Invalid, TypeError):  # slow path for this column only: find every bad cell
                converted = []
                for i, value in enumerate(column):
                    try:
                        converted.append(convert(value))
                    except Required as exc:
                        converted.append(None)
                        reasons[i].append({"column": header, "message": str(exc)})
                    except Invalid as exc:
                        converted.append(None)
                        reasons[i].append({"column": header, "message": f"{header}: {exc}"})
            converted_columns.append(converted)
        values = [
            dict(zip(fids, vals, strict=True)) for vals in zip(*converted_columns, strict=True)
        ]
        if not plan:
            values = [{} for _ in rows]
        if id_col is not None:
            for cells, value in zip(cells_list, values, strict=True):
                if cells[id_col] not in (None, ""):
                    value["_id"] = str(cells[id_col]).strip()
        return [
            Checked(row[0], cells, value, why)
            for row, cells, value, why in zip(rows, cells_list, values, reasons, strict=True)
        ]

    return run


def compile_validator(
    target: Target,
    headers: Sequence[str],
    columns: dict[str, int],
    date_formats: Sequence[str],
) -> Callable[[int, list[Any]], Checked]:
    """One row at a time (previews): the batch validator on a batch of one."""
    batch = compile_batch_validator(target, headers, columns, date_formats)

    def check(row_number: int, cells: list[Any]) -> Checked:
        return batch([(row_number, cells)])[0]

    return check
