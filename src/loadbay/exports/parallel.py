"""Big exports written by several processes side by side, into one ordinary file.

One process turns ~12 columns of a row into a cell of XLSX, CSV or JSON at 40,000
to 100,000 rows a second; the rest of the machine sat idle. Here the ordered rows
are cut into stretches (`split`), one per process; each process reads its stretch
by keyset like any export and writes its part of the file into a scratch file:

- CSV: the lines themselves; the parts are concatenated after the header.
- XLSX: the sheet's rows as a raw deflate piece that ends on a byte boundary
  without a final block; the sheet's writer splices the pieces into its one
  deflate stream (pigz's way) and combines their CRC-32s.
- JSON: whole deflated zip entries (the 10,000-record parts; a stretch holds
  whole parts), added to the zip as they are and numbered in order.

The cut points are the sort-key cursors of rows at fixed positions (the window's
last row among them), read in one snapshot: the stretches neither overlap nor leave
a gap, and a row added while the export runs falls into one stretch or none. XLSX
stretches are also capped at their length, so the sheet's row numbers are known
before any row is read; if a stretch fills up before its cut, the export is written
again in one process rather than leave a row out.
"""

from __future__ import annotations

import contextlib
import logging
import math
import multiprocessing
import os
import resource
import shutil
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from loadbay.db import Database
from loadbay.exports import queries, writing
from loadbay.exports.plan import ExportPlan
from loadbay.gcpause import tune_worker_gc
from loadbay.settings import get_settings
from loadbay.tabular.csv_writer import CsvWriter
from loadbay.tabular.jsonzip_writer import COMPRESSLEVEL as JSON_LEVEL
from loadbay.tabular.jsonzip_writer import JsonZipWriter
from loadbay.tabular.writers import Deflated, DeflatedEntries, StreamingZip
from loadbay.tabular.xlsx_writer import XlsxRowsPart, XlsxWriter

Progress = Callable[[int], None]
log = logging.getLogger("loadbay.exports")


@dataclass(frozen=True)
class Stretch:
    index: int
    first: int  # position of its first row in the export (0-based)
    window: queries.Window


def split(db: Database, plan: ExportPlan) -> list[Stretch] | None:
    """The stretches of a big export, or None to write it in this process."""
    settings = get_settings()
    processes = settings.export_processes
    if processes < 2 or multiprocessing.current_process().daemon:
        return None  # a daemonic worker (Huey's process pool) may not start processes
    part = settings.json_export_part_rows

    def stretch_rows(rows: int) -> int:
        size = math.ceil(rows / processes)
        if plan.download == "json":  # whole parts in every stretch: the zip's parts stay full
            size = math.ceil(size / part) * part
        return size

    chosen = queries.selection(plan, db.engine.dialect.name)
    least = max(settings.export_parallel_min_rows, 2)
    rows, size, cuts = queries.cut_points(db, plan, chosen, stretch_rows, least)
    if rows < least or len(cuts) < 2:
        return None
    # XLSX row numbers are fixed before any row is read, and JSON parts must stay full
    # (a stretch with rows added would end in a short part mid-zip), so there a stretch is
    # also capped at its length; one that reaches its cap before its cut (rows were added
    # to it while the export ran) makes the export start over in one process.
    capped = plan.download in ("xlsx", "json")
    stretches = [
        Stretch(
            i,
            i * size,
            queries.Window(
                start=cuts[i - 1] if i else None,
                stop=cut,
                limit=min(size, rows - i * size) if capped else None,
            ),
        )
        for i, cut in enumerate(cuts)
    ]
    return stretches


# ---- in each worker process --------------------------------------------------------------


def _write_stretch(
    url: str,
    plan_json: dict[str, Any],
    stretch: Stretch,
    part_rows: int,
    out: str,
    counter: Synchronized[int],
) -> None:
    """A worker process: one stretch into `out`, what it wrote into `out + '.json'`."""
    result: dict[str, Any]
    tune_worker_gc()
    db = Database(url)
    try:
        plan = ExportPlan.from_json(plan_json)

        def progress(n: int) -> None:
            with counter.get_lock():
                counter.value += n

        rows = writing.RowSource(db, plan, stretch.window, progress)
        with open(out, "wb") as f:
            if plan.download == "csv":
                csv = CsvWriter(f, bom=False)
                csv.write_fields(rows)  # the row builder made the fields' text
                csv.close()
                result = {}
            elif plan.download == "xlsx":
                part = XlsxRowsPart(f, first_row=stretch.first + 2, sheet=writing.sheet_name(plan))
                part.write_rows(rows)
                result = {"piece": _piece_json(part.end())}
            else:
                entries = DeflatedEntries(f, JSON_LEVEL)
                archive = JsonZipWriter(f, base_name="part", part_rows=part_rows, entries=entries)
                archive.write_records(rows)
                archive.close()
                result = {"pieces": [_piece_json(piece) for _name, piece in entries.entries]}
        usage = resource.getrusage(resource.RUSAGE_SELF)
        window = stretch.window
        result |= {
            # A capped stretch is whole only with exactly its rows, up to its cut: rows
            # added to it or gone from it while the export ran would shift what follows.
            "complete": window.limit is None
            or (rows.total == window.limit and rows.last_keys == window.stop),
            "rows": rows.total,
            "last_id": rows.last_id,
            "peak_mb": usage.ru_maxrss / 1024,
            "cpu": usage.ru_utime + usage.ru_stime,
        }
    except BaseException as exc:  # reported to the parent, which raises it there
        from loadbay.exports.service import is_transient

        kind = type(exc).__name__
        if isinstance(exc, (ValueError, TypeError)):
            kind = "ValueError" if isinstance(exc, ValueError) else "TypeError"
        elif is_transient(exc):
            kind = "transient"
        result = {"error": str(exc)[:2000], "kind": kind, "trace": traceback.format_exc()}
    finally:
        db.dispose()
    Path(out + ".json").write_bytes(orjson.dumps(result))


def _piece_json(piece: Deflated) -> list[int]:
    return [piece.offset, piece.csize, piece.crc, piece.size]


def _piece(raw: list[int]) -> Deflated:
    return Deflated(*raw)


# ---- in the calling process --------------------------------------------------------------

_context: Any = None


def _processes() -> Any:
    """Processes come from a fork server that has loadbay imported already: a new worker
    starts in milliseconds, not the second a fresh interpreter needs."""
    global _context
    if _context is None:
        _context = multiprocessing.get_context("forkserver")
        _context.set_forkserver_preload(["loadbay.exports.parallel"])
    return _context


def start_fork_server() -> None:
    from multiprocessing import forkserver

    _processes()
    forkserver.ensure_running()


def write_parallel(
    db: Database,
    plan: ExportPlan,
    target: BinaryIO,
    stretches: list[Stretch],
    *,
    stem: str,
    progress: Progress | None = None,
) -> writing.Written:
    ctx = _processes()
    counter = ctx.Value("q", 0)
    with tempfile.TemporaryDirectory(prefix="loadbay-export-") as scratch:
        outs = [os.path.join(scratch, f"part{s.index}") for s in stretches]
        workers = [
            ctx.Process(
                target=_write_stretch,
                args=(db.url, plan.to_json(), stretch, writing._part_rows(), out, counter),
                name=f"loadbay-export-{stretch.index}",
                daemon=True,
            )
            for stretch, out in zip(stretches, outs, strict=True)
        ]
        try:
            for worker in workers:
                worker.start()
            _wait(workers, counter, progress)
        finally:
            for worker in workers:
                if worker.is_alive():
                    worker.terminate()
                worker.join()
        results = [_result(out, worker) for out, worker in zip(outs, workers, strict=True)]
        if not all(r["complete"] for r in results):
            log.warning("rows were added during a parallel export: written in one process")
            return writing.write_single(db, plan, target, stem=stem, progress=progress)
        _assemble(plan, target, stem, outs, results)
    total = sum(int(r["rows"]) for r in results)
    last_id = next((r["last_id"] for r in reversed(results) if r["rows"]), None)
    usage = tuple((float(r["peak_mb"]), float(r["cpu"])) for r in results)
    return writing.Written(total, last_id, usage)


def _wait(workers: list[Any], counter: Synchronized[int], progress: Progress | None) -> None:
    reported = 0
    while True:
        alive = [w for w in workers if w.is_alive()]
        if progress is not None:
            done = counter.value
            if done > reported:
                progress(done - reported)
                reported = done
        if not alive:
            return
        if any(w.exitcode not in (None, 0) for w in workers):
            return  # one died: no point waiting for the others
        alive[0].join(0.2)


def _result(out: str, worker: Any) -> dict[str, Any]:
    path = Path(out + ".json")
    if not path.exists():
        raise RuntimeError(f"an export worker ended without a result (exit code {worker.exitcode})")
    result: dict[str, Any] = orjson.loads(path.read_bytes())
    if "error" in result:
        kind, message = result["kind"], result["error"]
        if kind == "ValueError":
            raise ValueError(message)
        if kind == "TypeError":
            raise TypeError(message)
        if kind == "transient":
            raise ConnectionError(message)
        raise RuntimeError(f"an export worker failed: {kind}: {message}")
    return result


def _assemble(
    plan: ExportPlan, target: BinaryIO, stem: str, outs: list[str], results: list[dict[str, Any]]
) -> None:
    if plan.download == "csv":
        with CsvWriter(target) as csv:
            csv.write_header(writing.headers(plan))
            for out in outs:
                with open(out, "rb") as f:
                    shutil.copyfileobj(f, target, 1 << 20)
        return
    if plan.download == "xlsx":
        with XlsxWriter(target) as xlsx:
            xlsx.add_sheet(
                writing.sheet_name(plan), writing.headers(plan), widths=writing.widths(plan) or None
            )
            for out, result in zip(outs, results, strict=True):
                with open(out, "rb") as f:
                    xlsx.splice_rows(f, _piece(result["piece"]), int(result["rows"]))
        return
    archive = StreamingZip(target, JSON_LEVEL)
    number = 0
    for out, result in zip(outs, results, strict=True):
        with open(out, "rb") as f:
            for raw in result["pieces"]:
                number += 1
                archive.add_deflated(f"{stem}_{number}.json", f, _piece(raw))
    if number == 0:
        archive.add(f"{stem}_1.json", "[]")
    archive.finish()
    with contextlib.suppress(AttributeError, OSError):
        target.flush()
