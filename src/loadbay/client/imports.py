"""`loadbay import|watch|jobs|cancel|revert|template`: imports on a remote server."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from loadbay.client import output, review
from loadbay.client.common import Json, Token, Url, connect, handled, ignored
from loadbay.client.errors import EXIT_FAILED, STATUS_EXIT, ClientError, UsageError
from loadbay.client.flags import (
    HeaderRowOpt,
    IgnoreOpt,
    InvalidOpt,
    LocaleOpt,
    MapOpt,
    MaxInvalidOpt,
    Review,
    SheetOpt,
    Unmapped,
    UnmappedOpt,
    ValueMapOpt,
)
from loadbay.client.follow import follow
from loadbay.client.http import Client

DataTypeOpt = Annotated[str | None, typer.Option("--data-type", help="data type name or id")]
FlowOpt = Annotated[str | None, typer.Option("--flow", help="flow name or id (imports tasks)")]
FailedRows = Annotated[
    Path | None,
    typer.Option("--failed-rows", help="download the failed rows to this file", dir_okay=False),
]
Wait = Annotated[bool, typer.Option("--wait/--no-wait", help="follow the job until it ends")]
REVERT_DONE = ("Done", "Failed")


def _one_of(data_type: str | None, flow: str | None) -> None:
    if (data_type is None) == (flow is None):
        raise UsageError("give exactly one of --data-type or --flow")


def _target(client: Client, data_type: str | None, flow: str | None) -> tuple[str, str]:
    _one_of(data_type, flow)
    if data_type is not None:
        return "datasource", client.find("data type", data_type)
    return "task", client.find("flow", str(flow))


def finish(client: Client, record: dict[str, Any], as_json: bool, failed: Path | None) -> int:
    """Report an ended import; answers its exit code."""
    err = output.stderr()
    review.warn_columns([str(h) for h in record.get("ignoredColumns") or []])
    link = record.get("fileFailedImported")
    if failed is not None:
        if link:
            size = client.download(str(link), failed)
            err.print(f"failed rows: {failed} ({size:,} bytes)", markup=False)
        else:
            err.print("no failed rows to download", markup=False)
    if as_json:
        output.print_json(record)
    else:
        try:
            view: dict[str, Any] | None = client.job(str(record["_id"]))
        except ClientError:  # the split is a nicety; the record's counts stand alone
            view = None
        out = output.stdout()
        out.print(output.counts_table(record, view))
        if record.get("errorMessage"):
            out.print(str(record["errorMessage"]), style="red", markup=False)
        if link and failed is None:
            out.print(f"failed rows: {link}", markup=False)
    return STATUS_EXIT.get(str(record.get("status")), EXIT_FAILED)


@handled
def import_file(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV, TSV, XLSX, XLS, JSON or NDJSON file", exists=True, dir_okay=False
        ),
    ],
    data_type: DataTypeOpt = None,
    flow: FlowOpt = None,
    hub: Annotated[str | None, typer.Option(help="hub name or id")] = None,
    mode: Annotated[
        str, typer.Option(help="CreateOnly, UpdateOnly or CreateAndUpdate")
    ] = "CreateAndUpdate",
    config: Annotated[str | None, typer.Option(help="import config id (column mapping)")] = None,
    preview: Annotated[
        bool,
        typer.Option(
            help="check the whole file and print the errors and the forecast; write nothing"
        ),
    ] = False,
    sheet: SheetOpt = None,
    header_row: HeaderRowOpt = None,
    maps: MapOpt = None,
    ignore: IgnoreOpt = None,
    value_map: ValueMapOpt = None,
    invalid: InvalidOpt = None,
    max_invalid: MaxInvalidOpt = None,
    locale: LocaleOpt = None,
    unmapped: UnmappedOpt = Unmapped.ignore,
    failed_rows: FailedRows = None,
    wait: Wait = True,
    org: Annotated[
        str | None, typer.Option(help="ignored remotely: the token names the organisation")
    ] = None,
    email: Annotated[
        str | None, typer.Option(help="ignored remotely: the token names the user")
    ] = None,
    url: Url = None,
    token: Token = None,
    as_json: Json = False,
) -> int:
    """Upload FILE to the server and follow the import: a progress bar, then the counts.

    Reads as `--preview` shows: the same mapping (remembered ones included), the
    organisation's locale, the same checks. A column no field takes is ignored and
    listed (or, with --unmapped-columns error, fails the import).

    Exit codes: 0 success, 1 partially, 3 failed, 4 cancelled, 5 unreachable or refused.
    """
    _one_of(data_type, flow)
    ignored("--org", org, "the token names the organisation")
    ignored("--email", email, "the token names the user")
    choices = Review.of(maps, ignore, value_map, invalid, max_invalid)
    with connect(url, token) as client:
        kind, target_id = _target(client, data_type, flow)
        fields = {
            "dataTypeId" if kind == "datasource" else "flowId": target_id,
            "importMode": mode,
            "useMemory": "true",
            "unmappedColumns": unmapped.value,
        }
        for key, value in (("hubId", hub and client.find("hub", hub)),
                           ("importConfigId", config), ("sheet", sheet),
                           ("headerRow", header_row), ("locale", locale)):  # fmt: skip
            if value is not None and value != "":
                fields[key] = str(value)
        if preview:
            return review.preview(client, file, fields, choices, as_json)
        if choices.asked:
            code = review.confirm(client, file, fields, choices, unmapped.value)
        else:  # nothing to confirm: the job flow without a preview (same mapping, locale)
            answer = client.upload("/import-jobs", file, {**fields, "showPreview": "false"})
            code = str(dict(answer or {})["code"])
        output.stderr().print(f"import {code}: {file.name} queued", markup=False)
        if not wait:
            if as_json:
                output.print_json(client.monitoring(code))
            else:
                output.stdout().print(code, markup=False)
            return 0
        record = follow(client, code, show=not as_json, console=output.stderr())
        return finish(client, record, as_json, failed_rows)


@handled
def watch(
    code: Annotated[str, typer.Argument(help="the import's code (its monitoring _id)")],
    failed_rows: FailedRows = None,
    url: Url = None,
    token: Token = None,
    as_json: Json = False,
) -> int:
    """Follow one import until it ends (exit code as for `import`)."""
    with connect(url, token) as client:
        record = follow(client, code, show=not as_json, console=output.stderr())
        return finish(client, record, as_json, failed_rows)


@handled
def jobs(
    status: Annotated[
        str | None,
        typer.Option(help="onprocess, success, partially, failed, cancelled (comma list)"),
    ] = None,
    type_: Annotated[
        str | None, typer.Option("--type", help="datasource, task, visit, route (comma list)")
    ] = None,
    limit: Annotated[int, typer.Option(help="how many, newest first", min=1, max=100)] = 20,
    url: Url = None,
    token: Token = None,
    as_json: Json = False,
) -> int:
    """List imports, newest first."""
    params: dict[str, Any] = {"limit": limit}
    if status:
        params["status"] = status
    if type_:
        params["type"] = type_
    with connect(url, token) as client:
        page = client.jobs(params)
    records = list(page.get("data") or [])
    if as_json:
        output.print_json(records)
    else:
        output.stdout().print(output.jobs_table(records, int(page.get("total") or 0)))
    return 0


@handled
def cancel(
    code: Annotated[str, typer.Argument(help="the import's code")],
    wait: Wait = True,
    url: Url = None,
    token: Token = None,
    as_json: Json = False,
) -> int:
    """Cancel an import (exit 4 once it is cancelled).

    One not started stops at once, a running one after its chunk in flight.
    """
    with connect(url, token) as client:
        view = client.cancel(code)
        if view.get("status") == "Cancelled" or not wait:
            if as_json:
                output.print_json(view)
            else:
                output.stdout().print(f"import {code}: {view.get('status')}", markup=False)
            return STATUS_EXIT.get(str(view.get("status")), 0)
        record = follow(client, code, show=not as_json, console=output.stderr())
        return finish(client, record, as_json, None)


@handled
def revert(
    code: Annotated[str, typer.Argument(help="the import's code")],
    wait: Wait = True,
    url: Url = None,
    token: Token = None,
    as_json: Json = False,
) -> int:
    """Undo what an import wrote (records changed since are left as they are)."""
    with connect(url, token) as client:
        view = client.revert(code)
        deadline = time.monotonic() + 3600
        while wait and view.get("revertStatus") not in REVERT_DONE:
            if time.monotonic() > deadline:
                break
            time.sleep(1.0)
            view = client.job(code)
    if as_json:
        output.print_json(view)
    else:
        out = output.stdout()
        out.print(f"import {code}: revert {view.get('revertStatus', 'Queued')}", markup=False)
        for key in ("revertedCount", "revertSkipped", "revertedBy", "revertedAt"):
            if key in view:
                out.print(f"{key}: {view[key]}", markup=False)
    return EXIT_FAILED if view.get("revertStatus") == "Failed" else 0


@handled
def template(
    data_type: DataTypeOpt = None,
    flow: FlowOpt = None,
    out: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="where to write it (default: its name, here)"),
    ] = None,
    url: Url = None,
    token: Token = None,
    as_json: Json = False,
) -> int:
    """Download the XLSX template of a data type or flow (required columns marked *)."""
    _one_of(data_type, flow)
    with connect(url, token) as client:
        kind, target_id = _target(client, data_type, flow)
        found = client.template(kind, target_id)
        target = out or Path(str(found.get("filename") or "template.xlsx"))
        size = client.download(str(found["fileTemplate"]), target)
    if as_json:
        output.print_json({**found, "file": str(target), "bytes": size})
    else:
        output.stdout().print(f"template written to {target} ({size:,} bytes)", markup=False)
    return 0
