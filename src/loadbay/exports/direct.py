"""Direct exports written in a worker process while the request awaits it.

A direct export may be a million rows: written on a request thread it held that thread,
and with it the interpreter's lock, for seconds, and polls beside it slowed down. Here
it runs in a process of a pool the API owns (started lazily, on the exports' fork
server, so a process starts in milliseconds); the request awaits the process's future
on the event loop and holds no thread meanwhile. The pool has as many processes as
direct exports may run at once (`direct_export_concurrency`, 429 past it); a big one
may still be written by several processes (`loadbay.exports.parallel`).
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from starlette.concurrency import run_in_threadpool

from loadbay.db import Database, set_database
from loadbay.exports import parallel
from loadbay.exports.models import ExportLog
from loadbay.exports.run import run_export
from loadbay.settings import Settings, get_settings

_lock = threading.Lock()
_pool: tuple[int, ProcessPoolExecutor] | None = None


def _executor(settings: Settings) -> ProcessPoolExecutor:
    global _pool
    size = settings.direct_export_concurrency
    with _lock:
        if _pool is None or _pool[0] != size:
            if _pool is not None:
                _pool[1].shutdown(wait=False)
            executor = ProcessPoolExecutor(size, mp_context=parallel._processes())
            _pool = (size, executor)
        return _pool[1]


def _forget(executor: ProcessPoolExecutor) -> None:
    """A pool whose process died (killed for memory) takes no more work: the next export
    starts a new one."""
    global _pool
    with _lock:
        if _pool is not None and _pool[1] is executor:
            _pool = None
    executor.shutdown(wait=False)


def _run(url: str, settings: Settings, log_id: str) -> None:
    """In the worker process: the caller's settings and database, then the export."""
    get_settings.use(settings)
    set_database(Database(url))
    run_export(log_id)


async def run_direct(db: Database, settings: Settings, log_id: str) -> ExportLog | None:
    """Write the entry's file in a worker process, with the caller's settings (handed
    over, not read from the environment: an app may be built for settings of its own);
    the entry as it ended (None if the process died before it could say)."""
    executor = _executor(settings)
    try:
        await asyncio.wrap_future(executor.submit(_run, db.url, settings, log_id))
    except BrokenProcessPool:
        _forget(executor)
        return None
    return await run_in_threadpool(_entry, db, log_id)


def _entry(db: Database, log_id: str) -> ExportLog | None:
    with db.read() as session:
        return session.get(ExportLog, log_id)
