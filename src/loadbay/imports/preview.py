"""The preview of an upload: the file's structure (sheets, header row, first raw rows),
the suggested mapping with every column not mapped, and the first rows validated with
it. The import-job routes, the draft changes and the console read it from here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadbay.errors import ApiError, BadRequest, Unprocessable
from loadbay.imports import mapping, values
from loadbay.imports.invalid_rule import no_data_rows
from loadbay.imports.limits import limits
from loadbay.imports.models import ImportJob
from loadbay.imports.preview_read import Head, read_head
from loadbay.imports.target import Target
from loadbay.imports.validate import Checked, compile_validator
from loadbay.settings import Settings, get_settings
from loadbay.tabular.readers import TableError

PREVIEW_ROWS = 10


@dataclass(frozen=True)
class Preview:
    headers: list[str]
    total_rows: int
    rows: list[dict[str, Any]]
    suggested: list[dict[str, str]]
    head: Head | None = None
    resolution: mapping.Resolution | None = None


def target_id_of(job: ImportJob) -> str:
    return str(job.data_type_id if job.type == "datasource" else job.flow_id)


def table_error(exc: TableError) -> ApiError:
    code = str(getattr(exc, "code", None) or "import-015")
    message = str(getattr(exc, "message", None) or exc)
    if code.endswith("-002"):
        detail = getattr(exc, "detail", None)
        return Unprocessable(code, message, extra={"detail": detail} if detail else None)
    return BadRequest(code, message)


def _preview_row(row: Checked, header_of: dict[str, str]) -> dict[str, Any]:
    """A value shows only when its cell is valid; a failed cell is in `errors` instead."""
    bad = {reason["column"] for reason in row.reasons}
    values = {f: v for f, v in row.values.items() if header_of.get(f) not in bad}
    return {"rowNumber": row.row_number, "values": values, "errors": row.reasons}


def read_job_head(
    path: Path, job: ImportJob, *, count: bool = True, settings: Settings | None = None
) -> Head:
    """The job's file as the preview reads it (sheet and header row as chosen), in the
    preview's limited child; a file that cannot be read is the API's error. `count`:
    count every row (else only the head is read, see `read_head`). `settings`: the
    app's, whose limits the child gets (the process's when not given)."""
    settings = settings or get_settings()
    try:
        return read_head(
            path,
            job.file_format,
            has_header_row=job.has_header_row,
            sheet=job.sheet_name,
            limits=limits(),
            n=PREVIEW_ROWS,
            memory_bytes=settings.preview_memory_bytes,
            timeout=settings.preview_timeout_seconds,
            header_row=(job.options or {}).get("headerRow"),
            count=count,
        )
    except TableError as exc:
        raise table_error(exc) from None


def read_preview(
    path: Path,
    job: ImportJob,
    target: Target,
    history: Sequence[Sequence[dict[str, Any]]],
    settings: Settings | None = None,
) -> Preview:
    """The file's structure (sheets, header row, first raw rows), the suggested mapping
    with every column not mapped, and the first rows validated with it."""
    settings = settings or get_settings()
    head = read_job_head(path, job, settings=settings)
    headers, total = head.headers, head.total or 0  # counted: read_job_head's default
    if total == 0:
        raise BadRequest("import-015", no_data_rows(head.sheet, head.header_row, head.sheets))
    resolved = mapping.resolve_mapping(
        headers, target.specs, preset=job.mapping, history=history, strict=False
    )
    suggested = resolved.items()
    header_of = {item["id"]: item["headerColumn"] for item in suggested}
    check = compile_validator(
        target, headers, resolved.columns, settings.date_formats, **values.rules_of(job)
    )
    rows = [_preview_row(check(number, cells), header_of) for number, cells in head.rows]
    return Preview(headers, total, rows, suggested, head, resolved)


def preview_body(job: ImportJob, preview: Preview) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": job.id,
        "hasHeaderRow": job.has_header_row,
        "headers": preview.headers,
        "totalRows": preview.total_rows,
        "previewRows": preview.rows,
        "suggestedMapping": preview.suggested,
    }
    head, resolved = preview.head, preview.resolution
    if head is not None and resolved is not None:
        body.update(
            sheets=head.sheets,
            sheet=head.sheet,
            headerRow=head.header_row,
            rowsAboveHeader=head.rows_above_header,
            rawRows=head.raw_rows,
            unmappedColumns=resolved.unmapped,
            ignoredColumns=resolved.ignored,
            missingRequiredFields=resolved.missing_required,
            suggestionSources=wire_sources(resolved.sources),
        )
    options = job.options or {}
    body["valueMap"] = options.get("valueMap") or {}
    body["locale"] = (options.get("locale") or {}).get("tag")
    return body


def remember_structure(job: ImportJob, preview: Preview) -> None:
    """The confirm and the plan step read the sheet and header row the preview showed."""
    job.headers = preview.headers
    if preview.head is not None:
        job.sheet_name = preview.head.sheet
        options = dict(job.options or {})
        if preview.head.header_row is not None:
            options["headerRow"] = preview.head.header_row
        options["rowsAboveHeader"] = preview.head.rows_above_header
        # each sheet's rows, counted once: the console's wizard pages read only the head
        options["sheets"] = preview.head.sheets
        job.options = options


def wire_sources(sources: dict[str, str]) -> dict[str, str]:
    """`suggestionSources` on the wire keeps DECISIONS' enum (exact|normalised|memory|
    config): a suggestion from the words of the names is a kind of normalised match
    there; the console, which names it "similar name", reads the sources unmapped."""
    return {h: "normalised" if s == "words" else s for h, s in sources.items()}
