"""The Huey instance, chosen by `LOADBAY_QUEUE_URL`, and the enqueue seam.

`sqlite:///path` (default: a file of its own beside the database),
`redis://host:port/db` (PriorityRedisHuey, so early chunks of a new job can
overtake the tail of a big one), or `memory://` (immediate mode: tasks run
inline when enqueued; tests only).
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from huey import Huey, MemoryHuey, PriorityRedisHuey, SqliteHuey
from huey.storage import BlackHoleStorage

from loadbay.settings import Settings, get_settings

log = logging.getLogger("loadbay.queue")


def make_huey(settings: Settings) -> Huey:
    url = settings.effective_queue_url
    if url.startswith("redis"):
        return PriorityRedisHuey("loadbay", url=url, results=False, utc=True)
    if url.startswith("memory"):
        return MemoryHuey("loadbay", results=False, immediate=True, utc=True)
    path = Path(url.split("///", 1)[1])
    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteHuey("loadbay", filename=str(path), results=False, utc=True, timeout=60)


class _Deferred:
    """The queue's storage until start-up names one. `create_app` and `run_consumer`
    call `configure` with their settings before anything is enqueued or consumed; a
    process that skipped it (a script, a one-off command) gets the queue of the
    process's settings on first use. Never built at import: importing loadbay reads no
    settings and creates no queue file."""

    def __getattr__(self, name: str) -> Any:
        attach()
        return getattr(huey.storage, name)


_attaching = threading.Lock()


def attach() -> None:
    """The process's settings' queue, if nothing configured one yet (a queue already
    attached, by `configure` or a test's fixture, is kept)."""
    with _attaching:
        if isinstance(huey.storage, _Deferred):
            configure(get_settings())


class _LoadbayHuey(Huey):  # type: ignore[misc]  # huey ships no types
    def enqueue(self, task: Any) -> Any:
        # Every way in (a task called, `.schedule`, a retry), before Huey reads whether
        # it runs tasks at once: the deferred storage would learn that too late.
        if isinstance(self.storage, _Deferred):
            attach()
        return super().enqueue(task)


# Exists from import on, so the task modules can declare their tasks on it; what it
# stores into is attached at start-up (`configure`).
huey: Huey = _LoadbayHuey("loadbay", results=False, utc=True, storage_class=BlackHoleStorage)
huey.storage = _Deferred()


def configure(settings: Settings) -> None:
    """Point the process's queue at `settings`' queue URL (at start-up, before any task
    is enqueued or consumed)."""
    built = make_huey(settings)
    # Its kind of storage too: Huey builds a fresh one of that kind when a test turns
    # immediate mode off or on.
    huey.storage_class, huey.storage_kwargs = built.storage_class, built.storage_kwargs
    huey.immediate = built.immediate
    huey.storage = built.storage


# ---- the enqueue seam -------------------------------------------------------------------
# Callers name a task ("chunk"), never import its module: the modules that declare tasks
# register them here, and a worker or API that starts without one of TASK_NAMES refuses
# to start (`require`), so work is never recorded and silently left unqueued.

TASK_NAMES = ("plan", "chunk", "finalize", "export", "review", "revert", "webhook")
_registry: dict[str, Any] = {}
_overrides: dict[str, Callable[..., None]] = {}


class UnknownTask(RuntimeError):
    """A task name nothing registered: a start-up error, never a silent no-op."""


def register(name: str, task: Any) -> None:
    _registry[name] = task


def require(names: tuple[str, ...] = TASK_NAMES) -> None:
    missing = [n for n in names if n not in _registry]
    if missing:
        raise UnknownTask(f"no task registered as {', '.join(missing)}")


def enqueue(name: str, *args: Any, priority: int | None = None) -> None:
    """Queue task `name`; call it after the commit that made its work visible."""
    if name in _overrides:
        _overrides[name](*args)
        return
    task = _registry.get(name)
    if task is None:
        raise UnknownTask(f"no task registered as {name}")
    if priority is None:
        task(*args)
    else:
        task(*args, priority=priority)


@contextmanager
def handled_here(**handlers: Callable[..., None]) -> Iterator[None]:
    """Run the named tasks in this process, as they are enqueued (the CLI's own import
    runs chunks and the finalize beside its plan)."""
    saved = dict(_overrides)
    _overrides.update(handlers)
    try:
        yield
    finally:
        _overrides.clear()
        _overrides.update(saved)


# The module that declares the tasks, imported by name: callers of this seam (the API,
# the import and export packages) never import it, and layers below the worker stay
# below it (the one registry the layer contract names).
TASK_MODULE = "loadbay.worker.tasks"


@huey.on_startup()
def _tune_gc() -> None:
    """Collector settings for bulk work, once per worker process (see loadbay.gcpause)."""
    from loadbay.gcpause import tune_worker_gc

    tune_worker_gc()


def load_tasks() -> None:
    """Register every task, so `enqueue` (and a consumer) knows them."""
    importlib.import_module(TASK_MODULE)


def queue_depth() -> int:
    try:
        return int(huey.pending_count())
    except Exception:  # a queue that cannot answer is not a reason to fail a scrape
        log.warning("queue depth not read", exc_info=True)
        return -1
