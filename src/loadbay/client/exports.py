"""`loadbay export tasks|data -o FILE`: a background export on the server, downloaded."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from loadbay.client import output
from loadbay.client.common import Json, Token, Url, connect, handled, ignored
from loadbay.client.errors import EXIT_FAILED, ServerError
from loadbay.client.http import Client

app = typer.Typer(help="Export tasks or data-source records to a file.", no_args_is_help=True)

Output = Annotated[Path, typer.Option("--output", "-o", help="the file to write", dir_okay=False)]
Format = Annotated[str, typer.Option("--format", "-f", help="xlsx, json (a zip of parts) or csv")]
Org = Annotated[str | None, typer.Option(help="ignored remotely: the token names the organisation")]
HubOpt = Annotated[str | None, typer.Option("--hub", help="hub id or name")]
Fields = Annotated[str | None, typer.Option(help="comma list of field ids, in column order")]
SortBy = Annotated[str, typer.Option("--sort-by", help="field to order by")]
SortOrder = Annotated[str, typer.Option("--sort-order", help="asc or desc")]
Page = Annotated[int | None, typer.Option(help="with --limit: which window of rows")]
Limit = Annotated[int | None, typer.Option(help="rows per window (default: every match)")]
Config = Annotated[str | None, typer.Option("--config", help="export config id")]
PACE = (0.2, 0.3, 0.5, 1.0)
STEADY = 2.0


def _wait(client: Client, log_id: str, label: str, show: bool) -> dict[str, Any]:
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    looks = 0
    with Progress(*columns, console=output.stderr(), disable=not show) as progress:
        progress.add_task(label, total=None)
        while True:
            entry = client.export_entry(log_id)
            if entry is None:
                raise ServerError(f"export {log_id} is not in the export log", 404)
            if entry.get("status") != "Processing":
                return entry
            time.sleep(PACE[looks] if looks < len(PACE) else STEADY)
            looks += 1


def run_export(
    kind: str,
    out: Path,
    fmt: str,
    refs: dict[str, str | None],
    filters: dict[str, Any],
    url: str | None,
    token: str | None,
    as_json: bool,
) -> int:
    request = {k: v for k, v in filters.items() if v is not None} | {"download": fmt}
    with connect(url, token) as client:
        if refs.get("dataType"):
            request["dataTypeId"] = client.find("data type", str(refs["dataType"]))
        if refs.get("flows"):
            names = str(refs["flows"]).split(",")
            request["flowId"] = ",".join(client.find("flow", f.strip()) for f in names)
        if refs.get("hub"):
            request["hubId"] = client.find("hub", str(refs["hub"]))
        answer = client.export(kind, request)
        log_id = str(answer.get("_id") or "")
        if not log_id:
            raise ServerError("the server did not queue the export (no _id in its answer)", 500)
        entry = _wait(client, log_id, f"{kind} export {log_id} → {out.name}", not as_json)
        if entry.get("status") != "Done" or not entry.get("fileUrl"):
            why = entry.get("errorMessage") or entry.get("status")
            output.stderr().print(
                f"loadbay: export {log_id} failed: {why}", style="red", markup=False
            )
            if as_json:
                output.print_json(entry)
            return EXIT_FAILED
        size = client.download(str(entry["fileUrl"]), out)
    if as_json:
        output.print_json(entry)
    else:
        noun = "tasks" if kind == "task" else "records"
        total = int(entry.get("totalRecords") or 0)
        output.stdout().print(f"{total:,} {noun} written to {out} ({size:,} bytes)", markup=False)
    return 0


@app.command("tasks")
@handled
def export_tasks(
    out: Output,
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
    url: Url = None,
    token: Token = None,
    as_json: Json = False,
) -> int:
    """Export tasks (the flows' own fields included). Exit 0 done, 3 failed, 5 unreachable."""
    ignored("--org", org, "the token names the organisation")
    filters = {"status": status, "assignee": assignee, "doneBy": done_by, "fields": fields,
               "sortBy": sort_by, "sortOrder": sort_order, "page": page, "limit": limit,
               "exportConfigId": config}  # fmt: skip
    refs = {"flows": flow, "hub": hub}
    return run_export("task", out, fmt, refs, filters, url, token, as_json)


@app.command("data")
@handled
def export_data(
    out: Output,
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
    url: Url = None,
    token: Token = None,
    as_json: Json = False,
) -> int:
    """Export data-source records. Exit 0 done, 3 failed, 5 unreachable."""
    ignored("--org", org, "the token names the organisation")
    filters = {"fields": fields, "sortBy": sort_by, "sortOrder": sort_order, "page": page,
               "limit": limit, "exportConfigId": config}  # fmt: skip
    refs = {"dataType": data_type, "hub": hub}
    return run_export("data", out, fmt, refs, filters, url, token, as_json)
