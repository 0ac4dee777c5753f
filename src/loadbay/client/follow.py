"""Following an import: poll its monitoring record, draw a bar with rows/s and time left,
stop when the record has a final status."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from loadbay.client.errors import ServerError, Unreachable
from loadbay.client.http import Client

FINAL = ("success", "partially", "failed", "cancelled")
# Quick first looks (a small file is done in well under a second), then the steady pace.
PACE = (0.2, 0.3, 0.5, 1.0)
STEADY = 2.0
# A poll that cannot reach the server is retried this long before the command gives up:
# a server restarting under a running import should not end the watch.
PATIENCE = 30.0


def done_rows(record: dict[str, Any]) -> int:
    if isinstance(record.get("processedRows"), int):
        return int(record["processedRows"])
    return int(record.get("totalValid") or 0) + int(record.get("totalInvalid") or 0)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-:--:--"
    seconds = max(0, round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class _Pace:
    """Rows/s and time left: the server's figures when it sends them, else measured here."""

    def __init__(self) -> None:
        self.start: tuple[float, int] | None = None

    def figures(self, record: dict[str, Any], done: int, total: int) -> tuple[str, str]:
        now = time.monotonic()
        if self.start is None or done < self.start[1]:
            self.start = (now, done)
        rate = record.get("rowsPerSecond")
        if not isinstance(rate, int | float):
            elapsed = now - self.start[0]
            rate = (
                (done - self.start[1]) / elapsed if elapsed > 0 and done > self.start[1] else None
            )
        eta = record.get("etaSeconds")
        if not isinstance(eta, int | float):
            eta = (total - done) / rate if rate and total >= done else None
        return (f"{rate:,.0f} rows/s" if rate else "- rows/s"), f"{_duration(eta)} left"


def _poll(client: Client, code: str) -> dict[str, Any]:
    deadline = time.monotonic() + PATIENCE
    while True:
        try:
            return client.monitoring(code)
        except (Unreachable, ServerError) as exc:
            transient = isinstance(exc, Unreachable) or exc.status in (502, 503, 504)
            if not transient or time.monotonic() > deadline:
                raise
            time.sleep(1.0)


def follow(client: Client, code: str, *, show: bool, console: Console) -> dict[str, Any]:
    """Poll until the import `code` ends; answers its final monitoring record."""
    record = _poll(client, code)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TextColumn("{task.fields[rate]}"),
        TextColumn("{task.fields[eta]}"),
        TimeElapsedColumn(),
    )
    pace = _Pace()
    looks = 0
    with Progress(*columns, console=console, disable=not show, transient=False) as progress:
        bar = progress.add_task(str(record.get("filename") or code), total=None, rate="", eta="")
        while True:
            total = int(record.get("totalRows") or 0)
            done = done_rows(record)
            rate, eta = pace.figures(record, done, total)
            progress.update(bar, total=total or None, completed=done, rate=rate, eta=eta)
            if record.get("status") in FINAL:
                return record
            time.sleep(PACE[looks] if looks < len(PACE) else STEADY)
            looks += 1
            record = _poll(client, code)
