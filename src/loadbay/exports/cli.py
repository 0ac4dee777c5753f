"""`loadbay export tasks|data … -o FILE`: the API's checks, plan and writer, into a local file.

Wire it into the main command with `app.add_typer(exports.cli.app, name="export")`.
Ids may be given by name (organisation, data type, flows, hubs); everything else
is checked exactly as `POST /tasks/export` and `POST /data/export` check it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, TypeVar

import sqlalchemy as sa
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.orm import Session

from loadbay.catalog.models import DataType, Flow, Hub, Organization
from loadbay.db import get_database, migrate
from loadbay.errors import ApiError
from loadbay.exports import service, writing
from loadbay.exports.schemas import parse_request

app = typer.Typer(help="Export tasks or data-source records to a file.", no_args_is_help=True)
console = Console(stderr=True)
Named = TypeVar("Named", Organization, Hub, Flow, DataType)

Output = Annotated[Path, typer.Option("--output", "-o", help="the file to write")]
Format = Annotated[str, typer.Option("--format", "-f", help="xlsx, json (a zip of parts) or csv")]
Org = Annotated[
    str | None, typer.Option(help="organisation id or name (default: the only one there is)")
]
HubOpt = Annotated[str | None, typer.Option("--hub", help="hub id or name")]
Fields = Annotated[str | None, typer.Option(help="comma list of field ids, in column order")]
SortBy = Annotated[str, typer.Option("--sort-by", help="field to order by")]
SortOrder = Annotated[str, typer.Option("--sort-order", help="asc or desc")]
Page = Annotated[int | None, typer.Option(help="with --limit: which window of rows")]
Limit = Annotated[int | None, typer.Option(help="rows per window (default: every match)")]
Config = Annotated[str | None, typer.Option("--config", help="export config id")]


class CliError(Exception):
    pass


def _find(session: Session, model: type[Named], org: str | None, ref: str, label: str) -> Named:
    query = sa.select(model).where(sa.or_(model.id == ref, model.name == ref))
    if org is not None and model is not Organization:
        query = query.where(getattr(model, "organization_id") == org)  # noqa: B009
    found = list(session.scalars(query.limit(2)))
    if len(found) != 1:
        raise CliError(f"{label} {ref!r}: {'not found' if not found else 'more than one match'}")
    return found[0]


def _organisation(session: Session, ref: str | None) -> str:
    if ref is not None:
        return _find(session, Organization, None, ref, "organisation").id
    ids = list(session.scalars(sa.select(Organization.id).limit(2)))
    if len(ids) != 1:
        raise CliError("more than one organisation (or none): name one with --org")
    return ids[0]


def export_command(
    kind: str,
    output: Path,
    fmt: str = "xlsx",
    *,
    org: str | None = None,
    data_type: str | None = None,
    flows: str | None = None,
    hub: str | None = None,
    show_progress: bool = True,
    **filters: Any,
) -> int:
    """Export to `output`; returns the rows written. `filters` take the API's names
    (`status`, `assignee`, `doneBy`, `fields`, `sortBy`, `sortOrder`, `page`, `limit`,
    `exportConfigId`)."""
    db = get_database()
    migrate(db)
    raw: dict[str, Any] = {k: v for k, v in filters.items() if v is not None}
    raw["download"] = fmt
    with db.read() as session:
        org_id = _organisation(session, org)
        if data_type is not None:
            raw["dataTypeId"] = _find(session, DataType, org_id, data_type, "data type").id
        if flows is not None:
            raw["flowId"] = ",".join(
                _find(session, Flow, org_id, f.strip(), "flow").id for f in flows.split(",")
            )
        if hub is not None:
            raw["hubId"] = _find(session, Hub, org_id, hub, "hub").id
    request = parse_request(kind, raw)
    plan, rows = service.prepare(db, org_id, request)
    output = output.expanduser().resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.name}.part")
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(
        *columns, TimeElapsedColumn(), console=console, disable=not show_progress
    ) as progress:
        bar = progress.add_task(f"{kind} → {output.name}", total=rows)
        try:
            with partial.open("wb") as target:
                written = writing.write_export(
                    db, plan, target, stem=output.stem, progress=lambda n: progress.advance(bar, n)
                )
            os.replace(partial, output)
        finally:
            partial.unlink(missing_ok=True)
    return written.total


def _run(kind: str, output: Path, fmt: str, **options: Any) -> None:
    try:
        total = export_command(kind, output, fmt, **options)
    except (ApiError, CliError) as exc:
        console.print(f"[red]{getattr(exc, 'message', exc)}[/red]")
        raise typer.Exit(2) from None
    console.print(f"{total:,} {'tasks' if kind == 'task' else 'records'} written to {output}")


@app.command("tasks")
def export_tasks(
    output: Output,
    fmt: Format = "xlsx",
    org: Org = None,
    flow: Annotated[str | None, typer.Option(help="flow ids or names, comma separated")] = None,
    hub: HubOpt = None,
    status: Annotated[str | None, typer.Option(help="UNASSIGNED, ONGOING or DONE")] = None,
    assignee: Annotated[str | None, typer.Option(help="assignee e-mail")] = None,
    done_by: Annotated[str | None, typer.Option("--done-by", help="who finished it")] = None,
    fields: Fields = None,
    sort_by: SortBy = "createdTime",
    sort_order: SortOrder = "desc",
    page: Page = None,
    limit: Limit = None,
    config: Config = None,
) -> None:
    """Export tasks (the flows' own fields included)."""
    _run(
        "task", output, fmt, org=org, flows=flow, hub=hub, status=status, assignee=assignee,
        doneBy=done_by, fields=fields, sortBy=sort_by, sortOrder=sort_order, page=page,
        limit=limit, exportConfigId=config,
    )  # fmt: skip


@app.command("data")
def export_data(
    output: Output,
    fmt: Format = "xlsx",
    org: Org = None,
    data_type: Annotated[
        str | None, typer.Option("--data-type", help="data type id or name (default: all)")
    ] = None,
    hub: HubOpt = None,
    fields: Fields = None,
    sort_by: SortBy = "createdTime",
    sort_order: SortOrder = "desc",
    page: Page = None,
    limit: Limit = None,
    config: Config = None,
) -> None:
    """Export data-source records."""
    _run(
        "data", output, fmt, org=org, data_type=data_type, hub=hub, fields=fields,
        sortBy=sort_by, sortOrder=sort_order, page=page, limit=limit, exportConfigId=config,
    )  # fmt: skip
