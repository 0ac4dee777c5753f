"""Big exports written by several processes side by side, into one ordinary file.

One process turns ~12 columns of a row into a cell of XLSX, CSV or JSON at 40,000
to 100,000 rows a second; the rest of the machine sat idle. Here the ordered rows
are cut into stretches (`split`), one per process; each process reads its stretch
by keyset like any export and writes its part of the file into a scratch file, and
the format (`loadbay.exports.formats`) joins the parts into the file.

The cut points are the sort-key cursors of rows at fixed positions (the window's
last row among them), read in one snapshot: the stretches neither overlap nor leave
a gap, and a row added while the export runs falls into one stretch or none. Where
the format fixes a stretch's place in the file before it is read (XLSX row numbers,
full JSON parts), stretches are also capped at their length; if a stretch fills up
before its cut, or ends short of it, nothing is written and the caller writes the
export again in one process rather than leave a row out.

The processes are a `ProcessPoolExecutor` on a fork server that has loadbay imported
already; a worker's exception comes back through its future.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import pickle
import resource
import tempfile
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from multiprocessing.sharedctypes import Synchronized
from typing import Any, BinaryIO

from loadbay.db import Database
from loadbay.exports import queries
from loadbay.exports.formats import format_of
from loadbay.exports.formats.base import WrittenPart
from loadbay.exports.plan import ExportPlan
from loadbay.exports.rows import RowSource, Written
from loadbay.gcpause import tune_worker_gc
from loadbay.leases import is_transient
from loadbay.settings import get_settings

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
    fmt = format_of(plan.download)
    part = settings.json_export_part_rows

    def stretch_rows(rows: int) -> int:
        return fmt.stretch_rows(math.ceil(rows / processes), part)

    chosen = queries.selection(plan, db.engine.dialect.name)
    least = max(settings.export_parallel_min_rows, 2)
    rows, size, cuts = queries.cut_points(db, plan, chosen, stretch_rows, least)
    if rows < least or len(cuts) < 2:
        return None
    return [
        Stretch(
            i,
            i * size,
            queries.Window(
                start=cuts[i - 1] if i else None,
                stop=cut,
                limit=min(size, rows - i * size) if fmt.capped else None,
            ),
        )
        for i, cut in enumerate(cuts)
    ]


# ---- in each worker process --------------------------------------------------------------


@dataclass(frozen=True)
class StretchResult:
    part: WrittenPart
    complete: bool
    last_id: str | None
    peak_mb: float
    cpu: float


_counter: Synchronized[int] | None = None


def _start_worker(counter: Synchronized[int]) -> None:
    """Each worker process, once: the shared progress counter (it can only be handed
    over when the process starts) and the collector's settings."""
    global _counter
    _counter = counter
    tune_worker_gc()


def _progress(n: int) -> None:
    assert _counter is not None
    with _counter.get_lock():
        _counter.value += n


def _write_stretch(
    url: str, plan_json: dict[str, Any], stretch: Stretch, part_rows: int, out: str
) -> StretchResult:
    db = Database(url)
    try:
        plan = ExportPlan.from_json(plan_json)
        rows = RowSource(db, plan, stretch.window, _progress)
        with open(out, "wb") as f:
            pieces = format_of(plan.download).write_part(
                f, plan, rows, first=stretch.first, part_rows=part_rows
            )
    except BaseException as exc:
        raise _portable(exc) from None
    finally:
        db.dispose()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    window = stretch.window
    return StretchResult(
        WrittenPart(out, pieces, rows.total),
        # A capped stretch is whole only with exactly its rows, up to its cut: rows added
        # to it or gone from it while the export ran would shift what follows.
        complete=window.limit is None
        or (rows.total == window.limit and rows.last_keys == window.stop),
        last_id=rows.last_id,
        peak_mb=usage.ru_maxrss / 1024,
        cpu=usage.ru_utime + usage.ru_stime,
    )


def _portable(exc: BaseException) -> BaseException:
    """The exception itself if it survives the trip to the parent, else one of the kind the
    parent tells apart (a writer's ValueError names the row; a lost connection is retried)."""
    try:
        pickle.loads(pickle.dumps(exc))  # noqa: S301 - our own bytes, just made
        return exc
    except Exception:
        message = f"{type(exc).__name__}: {exc}"[:2000]
        if isinstance(exc, ValueError):
            return ValueError(str(exc))
        if isinstance(exc, TypeError):
            return TypeError(str(exc))
        return ConnectionError(message) if is_transient(exc) else RuntimeError(message)


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
) -> Written | None:
    """The export written by one process a stretch; None (and nothing written) when a
    capped stretch was not whole: the caller writes it in one process."""
    ctx = _processes()
    counter = ctx.Value("q", 0)
    part_rows = get_settings().json_export_part_rows
    with tempfile.TemporaryDirectory(prefix="loadbay-export-") as scratch:
        pool = ProcessPoolExecutor(
            len(stretches), mp_context=ctx, initializer=_start_worker, initargs=(counter,)
        )
        try:
            futures = [
                pool.submit(
                    _write_stretch,
                    db.url,
                    plan.to_json(),
                    s,
                    part_rows,
                    os.path.join(scratch, f"part{s.index}"),
                )
                for s in stretches
            ]
            _wait(futures, counter, progress)
            results = [f.result() for f in futures]  # a worker's exception is raised here
        finally:
            _stop(pool)
        if not all(r.complete for r in results):
            log.warning("rows were added during a parallel export: written in one process")
            return None
        format_of(plan.download).assemble(target, plan, [r.part for r in results], stem=stem)
    last_id = next((r.last_id for r in reversed(results) if r.part.rows), None)
    usage = tuple((r.peak_mb, r.cpu) for r in results)
    return Written(sum(r.part.rows for r in results), last_id, usage)


def _wait(
    futures: list[Future[StretchResult]], counter: Synchronized[int], progress: Progress | None
) -> None:
    reported = 0
    pending: set[Future[StretchResult]] = set(futures)
    while True:
        done, pending = wait(pending, timeout=0.2, return_when=FIRST_EXCEPTION)
        if progress is not None:
            now = counter.value
            if now > reported:
                progress(now - reported)  # may raise (a lost lease): the finally stops all
                reported = now
        if not pending or any(f.exception() is not None for f in done):
            return  # all done, or one failed: no point waiting for the others


def _stop(pool: ProcessPoolExecutor) -> None:
    """Shut the pool down; workers still writing (another one failed, or the caller's
    progress raised) are terminated rather than waited for."""
    processes = list(getattr(pool, "_processes", {}).values())  # no public way before 3.14
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join()
