"""`loadbay import FILE`: the API's import, run inline in this process with a progress bar.

The job is created by the same service code as an upload and shows in
/import-monitoring like one; only the queue is left out: the plan step runs
here and hands each chunk (and the finalize step) straight to this process.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.orm import Session

from loadbay.auth import Principal
from loadbay.catalog.models import DataType, Flow, Hub, Organization
from loadbay.db import Database, get_database, migrate
from loadbay.errors import ApiError
from loadbay.imports import finalize, pipeline, service
from loadbay.imports.jobs_routes import Preview, mapping_history, read_preview, table_error
from loadbay.imports.models import ImportJob
from loadbay.imports.upload import Upload
from loadbay.queue import handled_here
from loadbay.settings import get_settings
from loadbay.storage import LocalStorage, get_storage
from loadbay.tabular.readers import TableError, open_table

HEAD_BYTES = 65536


class CliError(Exception):
    """A problem the user can fix; printed without a traceback."""


def _one(session: Session, model: Any, org: str, what: str, name_or_id: str) -> str:
    found = list(
        session.scalars(
            sa.select(model.id).where(
                model.organization_id == org,
                sa.or_(model.id == name_or_id, model.name == name_or_id),
            )
        )
    )
    if not found:
        raise CliError(f"{what} '{name_or_id}' not found in this organisation")
    if len(found) > 1:
        raise CliError(f"{len(found)} {what}s are named '{name_or_id}': give the id")
    return str(found[0])


def _organization(session: Session, name_or_id: str) -> str:
    org = session.scalar(
        sa.select(Organization.id).where(
            sa.or_(Organization.id == name_or_id, Organization.name == name_or_id)
        )
    )
    if org is None:
        raise CliError(f"organisation '{name_or_id}' not found")
    return str(org)


def _count_rows(path: Path, job: ImportJob) -> int:
    try:
        with open_table(
            path,
            job.file_format,
            has_header_row=job.has_header_row,
            sheet=job.sheet_name,
            limits=pipeline.limits(),
        ) as table:
            return sum(1 for _ in table.rows())
    except TableError as exc:
        raise table_error(exc) from None


def import_command(
    file: Path,
    data_type: str | None,
    flow: str | None,
    hub: str | None,
    mode: str,
    config: str | None,
    preview: bool,
    org: str,
    email: str,
) -> None:
    """Import FILE into a data type or a flow; with `preview`, only show what would happen."""
    out = Console(soft_wrap=True)
    try:
        code = _import(out, file, data_type, flow, hub, mode, config, preview, org, email)
    except CliError as exc:
        out.print(str(exc), style="red", markup=False)
        raise typer.Exit(2) from None
    except ApiError as exc:
        out.print(f"{exc.message} ({exc.failed_code})", style="red", markup=False)
        raise typer.Exit(2) from None
    if code:
        raise typer.Exit(code)


def _import(
    out: Console,
    file: Path,
    data_type: str | None,
    flow: str | None,
    hub: str | None,
    mode: str,
    config: str | None,
    preview: bool,
    org: str,
    email: str,
) -> int:
    if (data_type is None) == (flow is None):
        raise CliError("give exactly one of --data-type or --flow")
    if not file.is_file():
        raise CliError(f"{file}: no such file")
    db = get_database()
    migrate(db)
    kind = "datasource" if data_type is not None else "task"
    with db.read() as session:
        org_id = _organization(session, org)
        target_id = _one(
            session, DataType if data_type else Flow, org_id, "data type" if data_type else "flow",
            str(data_type or flow),
        )  # fmt: skip
        hub_id = _one(session, Hub, org_id, "hub", hub) if hub else ""
    fields = {
        "dataTypeId" if kind == "datasource" else "flowId": target_id,
        "hubId": hub_id,
        "importMode": mode,
        "importConfigId": config or "",
    }
    principal = Principal(org_id, email, frozenset({"import"}))
    with tempfile.TemporaryDirectory(prefix="loadbay-") as tmp:
        copy = Path(tmp) / file.name
        shutil.copyfile(file, copy)  # storing an upload moves the file: keep the user's own
        with copy.open("rb") as f:
            head = f.read(HEAD_BYTES)
        upload = Upload(fields, file.name, copy, copy.stat().st_size, head)
        with db.read() as session:
            job, target = service.prepare(session, principal, kind, fields, upload)
            history = mapping_history(session, org_id, target) if preview else []
        if preview:
            _print_preview(out, read_preview(copy, job, target, history))
            return 0
        total = _count_rows(copy, job)
        service.store_upload(job, upload)
        with db.write() as session:
            session.add(job)
    out.print(f"import job {job.id}: {file.name} → {target.name}, {total:,} rows", markup=False)
    _run_inline(db, job.id, total)
    return _report(out, db, job.id)


def _run_inline(db: Database, job_id: str, total: int) -> None:
    """Plan the job here, each chunk and the finalize step run as the plan hands them out."""

    def processed() -> int:
        with db.read() as session:
            return int(
                session.scalar(sa.select(ImportJob.processed_rows).where(ImportJob.id == job_id))
                or 0
            )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True)) as progress:
        bar = progress.add_task("importing", total=total)

        def run_chunk(chunk_id: str) -> None:
            pipeline.run_chunk(chunk_id)
            progress.update(bar, completed=processed())

        with handled_here(chunk=run_chunk, finalize=finalize.finalize_job):
            pipeline.plan_job(job_id)
        progress.update(bar, completed=processed())


def _where(org: str, key: str) -> str:
    storage = get_storage()
    if isinstance(storage, LocalStorage):
        return str(storage.path(key))
    return storage.link(org, key, key.rsplit("/", 1)[-1], get_settings().link_ttl_seconds)


def _report(out: Console, db: Database, job_id: str) -> int:
    with db.read() as session:
        job = session.get(ImportJob, job_id)
    assert job is not None
    table = Table(show_header=False, box=None)
    for label, value in (
        ("status", job.status),
        ("rows", job.total_rows),
        ("created", job.created_count),
        ("updated", job.updated_count),
        ("skipped", job.skipped_count),
        ("failed", job.failed_count),
    ):
        table.add_row(label, str(value))
    out.print(table)
    if job.error_message:
        out.print(job.error_message, style="red", markup=False)
    if job.failed_key:
        out.print(f"failed rows: {_where(job.organization_id, job.failed_key)}", markup=False)
    if job.not_imported_key:
        where = _where(job.organization_id, job.not_imported_key)
        out.print(f"not imported (failed and skipped): {where}", markup=False)
    return 1 if job.status == "failed" else 0


def _print_preview(out: Console, preview: Preview) -> None:
    out.print(f"{preview.total_rows:,} rows; columns: {', '.join(preview.headers)}", markup=False)
    mapped = Table(title="suggested mapping")
    mapped.add_column("field")
    mapped.add_column("column")
    for item in preview.suggested:
        mapped.add_row(escape(item["id"]), escape(item["headerColumn"]))
    out.print(mapped)
    rows = Table(title=f"first {len(preview.rows)} rows")
    rows.add_column("row")
    for header in preview.headers:
        rows.add_column(escape(header))
    by_header = {item["headerColumn"]: item["id"] for item in preview.suggested}
    for row in preview.rows:
        values = [row["values"].get(by_header.get(h, "")) for h in preview.headers]
        rows.add_row(str(row["rowNumber"]), *("" if v is None else escape(str(v)) for v in values))
    out.print(rows)
    for row in preview.rows:  # below the table: a reason is too long for a cell
        for error in row["errors"]:
            where = f"row {row['rowNumber']}, {error['column']}"
            out.print(f"{where}: {error['message']}", style="red", markup=False)
