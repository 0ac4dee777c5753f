"""`loadbay import` through the import-job flow: the same preview the console shows
(whole-file check, remembered mappings, the organisation's locale), then a confirm
with the merged mapping, so what `--preview` shows is what the import does."""

from __future__ import annotations

import time
from contextlib import suppress
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from loadbay.client import output
from loadbay.client.errors import EXIT_FAILED, ClientError
from loadbay.client.flags import Review
from loadbay.client.http import Client

CHECKED = ("Done", "Failed")
PATIENCE = 3600.0  # the whole-file check of a very large file


def start(client: Client, file: Path, fields: dict[str, str]) -> dict[str, Any]:
    """Upload for a preview; answers the preview body (with its `code`)."""
    return dict(client.upload("/import-jobs", file, {**fields, "showPreview": "true"}) or {})


def _checked(client: Client, code: str, show: bool) -> dict[str, Any]:
    """Poll the job until its whole-file check ends; answers `validation`."""
    deadline = time.monotonic() + PATIENCE
    columns = (TextColumn("checking"), BarColumn(), MofNCompleteColumn(), TextColumn("rows"))
    with Progress(*columns, console=output.stderr(), disable=not show) as progress:
        bar = progress.add_task("check", total=None)
        while True:
            found = client.job(code).get("validation") or {}
            total = int(found.get("totalRows") or 0) or None
            progress.update(bar, total=total, completed=int(found.get("processedRows") or 0))
            if found.get("status") in CHECKED:
                return dict(found)
            if time.monotonic() > deadline:
                raise ClientError(f"import {code}: the whole-file check did not end in time")
            time.sleep(0.3)


def not_imported(body: dict[str, Any], items: list[dict[str, Any]]) -> list[str]:
    """The file's columns that no field takes: said, never dropped silently."""
    used = {str(i.get("headerColumn")) for i in items if not i.get("ignore")}
    return [h for h in body.get("headers") or [] if h and h not in used]


def warn_columns(headers: list[str]) -> None:
    if headers:
        output.stderr().print(
            f"loadbay: not imported (no field takes them): {', '.join(headers)}",
            style="yellow",
            markup=False,
        )


def preview(
    client: Client, file: Path, fields: dict[str, str], review: Review, as_json: bool
) -> int:
    """Check the whole file as the import would read it, print what it found, write
    nothing (the draft is cancelled whatever happens)."""
    body = start(client, file, fields)
    code = str(body["code"])
    try:
        items = list(body.get("suggestedMapping") or [])
        if review.maps or review.value_map:
            items = review.mapping(items) if review.maps else items
            draft: dict[str, Any] = {"mapping": items} if review.maps else {}
            if review.value_map:
                draft["valueMap"] = review.value_maps(body.get("valueMap"))
            client.draft(code, draft)
            body["valueMap"] = draft.get("valueMap", body.get("valueMap"))
        body["mapping"] = [i for i in items if not i.get("ignore")]
        body["validation"] = _checked(client, code, show=not as_json)
    finally:
        with suppress(ClientError):  # a draft already gone is fine
            client.cancel(code)
    skipped = not_imported(body, items)
    if as_json:
        output.print_json(body)
    else:
        warn_columns(skipped)
        output.review(output.stdout(), body)
        _rule(review, body["validation"])
    return EXIT_FAILED if body["validation"].get("status") == "Failed" else 0


def _rule(review: Review, check: dict[str, Any]) -> None:
    """What --invalid/--max-invalid would do with what the check found."""
    invalid, total = int(check.get("invalid") or 0), int(check.get("totalRows") or 0)
    limit = review.max_invalid_value()
    if isinstance(limit, str):
        limit = int(total * float(limit[:-1]) / 100)  # as the server counts a share
    if review.invalid == "block" and invalid:
        why = f"--invalid block: {invalid:,} invalid rows, so the import would write nothing"
    elif limit is not None and invalid > limit:
        why = f"--max-invalid {review.max_invalid}: {invalid:,} invalid rows is above it, "
        why += "so the import would write nothing"
    else:
        return
    output.stdout().print(why, style="red", markup=False)


def confirm(
    client: Client,
    file: Path,
    fields: dict[str, str],
    review: Review,
    unmapped: str,
) -> str:
    """Preview, then confirm with the merged mapping and the invalid-row rule; answers
    the import's code. A refused confirm (a mapping conflict…) cancels the draft."""
    body = start(client, file, fields)
    code = str(body["code"])
    confirm_body: dict[str, Any] = {"unmappedColumns": unmapped}
    items = list(body.get("suggestedMapping") or [])
    if review.maps:
        items = review.mapping(items)
        confirm_body["mapping"] = items
    if review.value_map:
        confirm_body["valueMap"] = review.value_maps(body.get("valueMap"))
    if review.invalid:
        confirm_body["invalidRows"] = review.invalid
    if review.max_invalid is not None:
        confirm_body["maxInvalid"] = review.max_invalid_value()
    try:
        client.confirm(code, confirm_body)
    except ClientError:
        with suppress(ClientError):
            client.cancel(code)
        raise
    return code
