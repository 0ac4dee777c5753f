"""The preview reads an upload in a child process with a memory limit, not in the API.

The readers check a file's extent and every zip member before anything large is
allocated, but the spreadsheet library is native code: if some file still made it
allocate without bound, it would abort the process it runs in (a Rust allocation
failure is not a Python exception). Here that process is a child forked from a
forkserver that has the readers imported already, limited by RLIMIT_AS; its death or
MemoryError becomes a 400 for this upload, and the API process carries on.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import multiprocessing
import resource
import traceback
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from loadbay.tabular.readers import Limits, Row, Table, TableError, header_text, open_table

log = logging.getLogger("loadbay.imports")
_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(
    [
        "loadbay.tabular.readers",
        "loadbay.tabular.csv_reader",
        "loadbay.tabular.json_reader",
        "loadbay.tabular.xlsx_reader",
        "loadbay.imports.preview_read",
    ]
)


RAW_ROWS = 20  # rows of the sheet shown as they are, so a client can pick the header


@dataclass(frozen=True)
class Head:
    headers: list[str]
    rows: list[Row]  # the first `n` data rows
    total: int | None  # every data row (None: not counted, see `read_head`)
    sheet: str | None = None  # the sheet read (workbooks)
    # [{name, index, rows}]; `rows` is None when not counted
    sheets: list[dict[str, Any]] = field(default_factory=list)
    header_row: int | None = None  # 1-based row of the header
    rows_above_header: int = 0  # non-blank rows above it (titles, group headers)
    raw_rows: list[list[str]] = field(default_factory=list)  # rows 1..20 as texts


def read_head(
    path: Path,
    fmt: str,
    *,
    has_header_row: bool,
    sheet: str | None,
    limits: Limits,
    n: int,
    memory_bytes: int,
    timeout: float,
    header_row: int | None = None,
    count: bool = True,
) -> Head:
    """Headers, the first `n` rows and the row count, read in a limited child process.

    `count=False` reads only the head: no row count (`total` and each sheet's `rows` are
    None) and the file is left after row `n` (and row 20 for `raw_rows`), so a page that
    shows the head of a 1M-row file does not read all of it (the count is the job's)."""
    receiver, sender = _CONTEXT.Pipe(duplex=False)
    args = (
        sender, str(path), fmt, has_header_row, sheet, limits, n, memory_bytes, header_row, count
    )  # fmt: skip
    child = _CONTEXT.Process(target=_child, args=args, daemon=True)
    child.start()
    sender.close()
    try:
        if not receiver.poll(timeout):
            raise TableError("import-040", f"The file could not be read within {timeout:g} seconds")
        kind, payload = receiver.recv()
    except (EOFError, OSError):
        child.join(5)
        raise TableError(
            "import-040",
            "The file could not be read within the preview's memory limit "
            f"({memory_bytes // 1024**2} MB; the reader ended with code {child.exitcode})",
        ) from None
    finally:
        receiver.close()
        if child.is_alive():
            child.kill()
        child.join(5)
    if kind == "bug":
        code, message, trace = payload
        log.error("preview reader failed on %s\n%s", Path(path).name, trace.rstrip())
        raise TableError(code, message)
    if kind == "error":
        raise TableError(*payload)
    return Head(**payload)


def _child(
    sender: Connection,
    path: str,
    fmt: str,
    has_header_row: bool,
    sheet: str | None,
    limits: Limits,
    n: int,
    memory_bytes: int,
    header_row: int | None,
    count: bool,
) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    result: tuple[str, Any]
    try:
        with open_table(
            Path(path),
            fmt,
            has_header_row=has_header_row,
            sheet=sheet,
            limits=limits,
            dates_as_text=True,
            header_row=header_row,
        ) as table:
            rows: list[Row] = []
            total: int | None = None
            if count:
                total = 0
                for row in table.rows():
                    total += 1
                    if total <= n:
                        rows.append(row)
            else:
                rows.extend(itertools.islice(table.rows(), n))
            head = {
                "headers": list(table.headers),
                "rows": rows,
                "total": total,
                "sheet": table.sheet,
                "header_row": table.header_row,
                "rows_above_header": table.rows_above_header,
                "raw_rows": [[header_text(c) for c in r] for r in table.raw_rows(RAW_ROWS)],
                "sheets": _sheets(Path(path), fmt, table, total, limits),
            }
            result = ("ok", head)
    except TableError as exc:
        result = ("error", (exc.code, exc.message))
    except MemoryError:
        result = ("error", ("import-040", "The file needs more memory to read than allowed"))
    except RecursionError:
        result = ("error", ("import-015", "The file is nested too deeply to read"))
    except Exception as exc:  # a reader's bug must still answer, not look like a crash
        message = f"The file could not be read ({type(exc).__name__})"
        # The parent logs the trace: this child has no log handlers of its own.
        result = ("bug", ("import-015", message, traceback.format_exc()))
    with contextlib.suppress(OSError):
        sender.send(result)
    sender.close()


def _sheets(
    path: Path, fmt: str, table: Table, total: int | None, limits: Limits
) -> list[dict[str, Any]]:
    """Each worksheet with its non-blank rows (header and rows above it included); the
    rows are None when the data rows were not counted."""
    out: list[dict[str, Any]] = []
    for index, name in enumerate(table.sheets):
        rows: int | None
        if total is None:
            rows = None
        elif name == table.sheet:
            rows = total + table.rows_above_header + (1 if table.header_row else 0)
        else:
            try:
                with open_table(path, fmt, sheet=name, limits=limits, dates_as_text=True) as other:
                    rows = other.count_raw()
            except TableError:
                rows = 0
        out.append({"name": name, "index": index, "rows": rows})
    return out
