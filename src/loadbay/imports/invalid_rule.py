"""The confirm's rule for invalid rows: `invalidRows=block` writes nothing unless every
row is valid; `maxInvalid` (a count, or "5%") stops the import above it.

Either needs the count before the first write, and the chunks write as the plan step
hands them out. So when a rule is set, the plan step first validates the whole file
with the validator the chunks use (and the same duplicate-key check), and fails the job
before any chunk exists, saying why. Without a rule nothing here runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from loadbay.catalog.fields import cell_text
from loadbay.errors import BadRequest
from loadbay.imports.dedupe import KeyIndex
from loadbay.imports.models import ImportJob
from loadbay.imports.review import Edited
from loadbay.imports.target import Target
from loadbay.imports.validate import compile_batch_validator
from loadbay.imports.values import rules_of
from loadbay.settings import get_settings
from loadbay.tabular.readers import Table

BATCH = 5000
EXAMPLES = 3  # rows quoted in the error message


def limit_of(max_invalid: Any, total: int) -> int | None:
    """The most invalid rows allowed, for `total` rows."""
    if max_invalid is None:
        return None
    if isinstance(max_invalid, str) and max_invalid.endswith("%"):
        return int(total * float(max_invalid[:-1]) / 100)
    return int(max_invalid)


def check_invalid_rule(
    job: ImportJob,
    target: Target,
    table: Table,
    columns: dict[str, int],
    key_col: int | None,
    edited: Edited | None = None,
) -> None:
    options = job.options or {}
    block = options.get("invalidRows") == "block"
    max_invalid = options.get("maxInvalid")
    if not block and max_invalid is None:
        return
    validate = compile_batch_validator(
        target, table.headers, columns, get_settings().date_formats, **rules_of(job)
    )
    total = invalid = 0
    examples: list[str] = []
    with KeyIndex() as seen:
        batch: list[tuple[int, list[Any]]] = []

        def check(rows: list[tuple[int, list[Any]]]) -> int:
            if edited is not None:  # a row fixed in the review counts as fixed
                rows = edited.rows(rows)
            dupes: dict[int, int] = {}
            if key_col is not None:
                keyed = [
                    (cell_text(c[key_col]), n)
                    for n, c in rows
                    if key_col < len(c) and c[key_col] not in (None, "")
                ]
                dupes = seen.first_rows(keyed)
            bad = 0
            for row in validate(rows):
                reasons = [r["message"] for r in row.reasons]
                if row.row_number in dupes:
                    reasons.append(f"duplicate of row {dupes[row.row_number]}")
                if reasons:
                    bad += 1
                    if len(examples) < EXAMPLES:
                        examples.append(f"row {row.row_number}: {'; '.join(reasons)}")
            return bad

        for row in table.rows():
            batch.append(row)
            if len(batch) >= BATCH:
                total, invalid = total + len(batch), invalid + check(batch)
                batch = []
        if batch:
            total, invalid = total + len(batch), invalid + check(batch)
    limit = 0 if block else limit_of(max_invalid, total)
    if limit is None or invalid <= limit:
        return
    rule = "invalidRows=block" if block else f"maxInvalid={max_invalid} ({limit} rows)"
    raise BadRequest(
        "import-003",
        f"Not imported: {invalid} of {total} rows are invalid, more than {rule} allows; "
        f"nothing was written. First: {' | '.join(examples)}",
    )


def no_data_rows(sheet: str | None, header_row: int | None, sheets: Sequence[Any]) -> str:
    """ "File has no data rows", naming the sheet read and the others there are."""
    if sheet is None:
        return "File has no data rows"
    names = ", ".join(str(s["name"] if isinstance(s, dict) else s) for s in sheets)
    under = f" under its header (row {header_row})" if header_row else ""
    return f'Sheet "{sheet}" has no data rows{under}; the workbook has: {names}'
