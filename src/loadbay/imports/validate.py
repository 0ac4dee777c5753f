"""Row validation: every cell of a row against its field, every reason kept by column.

Chunks are validated column by column: one converter mapped over a whole column
costs far less interpreter time than a loop over every (row, field) pair, and a
column without a bad cell never leaves the fast path. The preview uses the same
code on its few rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from loadbay.catalog.fields import (
    ColumnKernel,
    Invalid,
    Noted,
    cell_text,
    column_kernel,
    converter_for,
)
from loadbay.catalog.locale_fields import locale_converter, locale_kernel
from loadbay.catalog.locales import ValueLocale
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
    # Values kept but read with a caveat (a date's time dropped, a number read in
    # another convention): shown to the user, never a reason to fail the row.
    warnings: list[Reason] = field(default_factory=list)


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
    *,
    locale: ValueLocale | None = None,
    value_map: Mapping[str, Mapping[str, str]] | None = None,
) -> BatchValidator:
    """Checks many rows at once; the per-field work is resolved once, here.

    `locale`: read numbers, dates and yes/no the locale's way (None: as always).
    `value_map`: `{fieldId: {from: to}}`, a cell's trimmed text replaced before it is
    converted (`""` is a blank cell)."""
    plan: list[
        tuple[str, int, Callable[[Any], Any], str, Callable[[Any], Any], bool, ColumnKernel | None]
    ] = []
    remaps: dict[int, Mapping[str, str]] = {}
    for spec in target.specs:
        col = columns.get(spec.id)
        if col is None:
            continue
        header = headers[col]
        if locale is None:
            raw = converter_for(spec, date_formats)
            kernel = column_kernel(spec)
        else:
            raw = locale_converter(spec, date_formats, locale)
            kernel = locale_kernel(spec, locale)
        convert = _with_blanks(raw, spec.required, header, spec.type == "string")
        if value_map and value_map.get(spec.id):
            remaps[len(plan)] = value_map[spec.id]
        plan.append((spec.id, col, convert, header, raw, spec.type == "string", kernel))
    fids = [p[0] for p in plan]
    id_col = columns.get("_id")
    noting = locale is not None

    def run(rows: Sequence[Sequence[Any]]) -> list[Checked]:
        cells_list = [r[1] for r in rows]
        reasons: list[list[Reason]] = [[] for _ in rows]
        notes: list[list[Reason]] = [[] for _ in rows]
        converted_columns: list[list[Any]] = []
        for at, (_fid, col, convert, header, raw, is_text, kernel) in enumerate(plan):
            column = [cells[col] for cells in cells_list]
            remap = remaps.get(at)
            if remap is not None:
                column = [remap.get(_key(v), v) for v in column]
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
            if noting and not is_text and any(v.__class__ is Noted for v in converted):
                for i, v in enumerate(converted):
                    if v.__class__ is Noted:
                        converted[i] = v.value
                        notes[i].append({"column": header, "message": f"{header}: {v.note}"})
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
            Checked(row[0], cells, value, why, warned)
            for row, cells, value, why, warned in zip(
                rows, cells_list, values, reasons, notes, strict=True
            )
        ]

    return run


def _key(value: Any) -> str:
    """A cell as a value map's `from`: its trimmed text, blank as ""."""
    if value is None:
        return ""
    return (value if value.__class__ is str else cell_text(value)).strip()


def compile_validator(
    target: Target,
    headers: Sequence[str],
    columns: dict[str, int],
    date_formats: Sequence[str],
    *,
    locale: ValueLocale | None = None,
    value_map: Mapping[str, Mapping[str, str]] | None = None,
) -> Callable[[int, list[Any]], Checked]:
    """One row at a time (previews): the batch validator on a batch of one."""
    batch = compile_batch_validator(
        target, headers, columns, date_formats, locale=locale, value_map=value_map
    )

    def check(row_number: int, cells: list[Any]) -> Checked:
        return batch([(row_number, cells)])[0]

    return check
