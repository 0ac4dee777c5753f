"""What the commands print: tables for people, JSON for scripts (stdout holds nothing else)."""

from __future__ import annotations

import sys
from typing import Any

import orjson
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from loadbay.client.follow import done_rows


def stdout() -> Console:
    return Console(soft_wrap=True)


def stderr() -> Console:
    return Console(stderr=True, soft_wrap=True)


def print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")
    sys.stdout.flush()


def _target(record: dict[str, Any]) -> str:
    return str(record.get("dataTypeName") or record.get("flowName") or "")


def counts_table(record: dict[str, Any], view: dict[str, Any] | None) -> Table:
    """The final counts of one import: the monitoring record's, and the job view's split."""
    table = Table(show_header=False, box=None, title=f"import {record.get('_id', '')}")
    table.add_column(style="bold")
    table.add_column(justify="right")
    rows: list[tuple[str, Any]] = [
        ("status", record.get("status")),
        ("file", record.get("filename")),
        ("into", _target(record)),
        ("rows", record.get("totalRows")),
        ("valid", record.get("totalValid")),
        ("invalid", record.get("totalInvalid")),
    ]
    if view:
        rows += [
            ("created", view.get("createdCount")),
            ("updated", view.get("updatedCount")),
            ("skipped", view.get("skippedCount")),
            ("failed", view.get("errorCount")),
        ]
    if record.get("processingDuration") is not None:
        rows.append(("seconds", record["processingDuration"]))
    for label, value in rows:
        if value is not None and value != "":
            table.add_row(label, escape(str(value)))
    return table


def jobs_table(records: list[dict[str, Any]], total: int) -> Table:
    table = Table(title=f"{len(records)} of {total} imports, newest first")
    # The code is what a person copies into `watch` or `cancel`: never cut it short.
    table.add_column("code", no_wrap=True, min_width=24)
    for name in ("type", "file", "into", "status", "rows", "valid", "invalid"):
        table.add_column(name, justify="right" if name in ("rows", "valid", "invalid") else "left")
    table.add_column("created", no_wrap=True)
    for r in records:
        done = r.get("status") != "onprocess"
        table.add_row(
            escape(str(r.get("_id", ""))),
            escape(str(r.get("type", ""))),
            escape(str(r.get("filename", ""))),
            escape(_target(r)),
            escape(str(r.get("status", ""))),
            str(r.get("totalRows", "")),
            str(r.get("totalValid", "")) if done else str(done_rows(r)),
            str(r.get("totalInvalid", "")),
            escape(str(r.get("createdTime", ""))),
        )
    return table


def preview(out: Console, body: dict[str, Any]) -> None:
    headers = [str(h) for h in body.get("headers") or []]
    out.print(
        f"{int(body.get('totalRows') or 0):,} rows; columns: {', '.join(headers)}", markup=False
    )
    suggested = body.get("suggestedMapping") or []
    mapped = Table(title="suggested mapping")
    mapped.add_column("field")
    mapped.add_column("column")
    for item in suggested:
        mapped.add_row(escape(str(item.get("id"))), escape(str(item.get("headerColumn"))))
    out.print(mapped)
    rows = body.get("previewRows") or []
    table = Table(title=f"first {len(rows)} rows")
    table.add_column("row")
    for header in headers:
        table.add_column(escape(header))
    by_header = {item.get("headerColumn"): item.get("id") for item in suggested}
    for row in rows:
        values = [(row.get("values") or {}).get(by_header.get(h, "")) for h in headers]
        table.add_row(
            str(row.get("rowNumber")), *("" if v is None else escape(str(v)) for v in values)
        )
    out.print(table)
    for row in rows:  # below the table: a reason is too long for a cell
        for error in row.get("errors") or []:
            where = f"row {row.get('rowNumber')}, {error.get('column')}"
            out.print(f"{where}: {error.get('message')}", style="red", markup=False)


def review(out: Console, body: dict[str, Any]) -> None:
    """The whole-file check of a preview: where it read, the mapping, the forecast and
    the errors grouped by column and reason."""
    where = f"sheet {body['sheet']!r}, " if body.get("sheet") else ""
    header = body.get("headerRow")
    out.print(
        f"{where}header row {header if header else '-'}; "
        f"{int(body.get('totalRows') or 0):,} data rows",
        markup=False,
    )
    mapped = Table(title="mapping")
    mapped.add_column("column")
    mapped.add_column("field")
    sources = body.get("suggestionSources") or {}
    mapped.add_column("from")
    for item in body.get("mapping") or []:
        column = str(item.get("headerColumn"))
        mapped.add_row(escape(column), escape(str(item.get("id"))), sources.get(column, "given"))
    out.print(mapped)
    missing = body.get("missingRequiredFields") or []
    if missing:
        out.print(f"required fields with no column: {', '.join(missing)}", style="red")
    check = body.get("validation") or {}
    forecast = check.get("forecast") or {}
    out.print(
        f"checked {int(check.get('processedRows') or 0):,} of "
        f"{int(check.get('totalRows') or 0):,} rows: {check.get('valid', 0):,} valid, "
        f"{check.get('invalid', 0):,} invalid, {check.get('warnings', 0):,} warnings",
        markup=False,
    )
    out.print(
        f"would create {forecast.get('create', 0):,}, update {forecast.get('update', 0):,}, "
        f"skip {forecast.get('skip', 0):,}",
        markup=False,
    )
    if check.get("errorMessage"):
        out.print(f"the check failed: {check['errorMessage']}", style="red", markup=False)
    errors = check.get("errors") or []
    if errors:
        table = Table(title="errors by column and reason")
        for name in ("column", "reason", "count", "first rows"):
            table.add_column(name, justify="right" if name == "count" else "left")
        for group in errors:
            rows = ", ".join(str(r) for r in group.get("firstRows") or [])
            table.add_row(
                escape(str(group.get("column") or group.get("field") or "")),
                escape(str(group.get("reason") or group.get("code") or "")),
                f"{int(group.get('count') or 0):,}",
                rows,
            )
        out.print(table)
