"""The Huey instance, chosen by `LOADBAY_QUEUE_URL`, and the consumer runner.

`sqlite:///path` (default: a file of its own beside the database),
`redis://host:port/db` (PriorityRedisHuey, so early chunks of a new job can
overtake the tail of a big one), or `memory://` (immediate mode: tasks run
inline when enqueued; tests only).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from huey import Huey, MemoryHuey, PriorityRedisHuey, SqliteHuey

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


huey: Huey = make_huey(get_settings())


@huey.on_startup()
def _own_scratch() -> None:
    """Each worker (a process of its own with `--concurrency 2+`) keeps its temporary
    files apart, so a worker killed alone leaves nothing behind for long."""
    from loadbay.scratch import use_own_scratch

    use_own_scratch()


def load_tasks() -> None:
    """Import every module that declares tasks, so a consumer knows them."""
    import loadbay.exports.tasks
    import loadbay.imports.retention
    import loadbay.imports.revert_tasks
    import loadbay.imports.tasks
    import loadbay.webhooks.tasks  # noqa: F401


def run_consumer(concurrency: int = 1, periodic: bool = True) -> None:
    """Run a consumer in this process (its main thread: Huey installs signal handlers)."""
    from loadbay.scratch import use_own_scratch

    use_own_scratch()
    load_tasks()
    options: dict[str, Any] = {
        "workers": max(1, concurrency),
        "worker_type": "process" if concurrency > 1 else "thread",
        "periodic": periodic,
        "initial_delay": 0.05,
        "backoff": 1.5,
        "max_delay": 0.5,
        "check_worker_health": True,
    }
    log.info("worker starting", extra={"queue": type(huey).__name__, **options})
    stop = threading.Event()
    if periodic:
        from loadbay.imports.tasks import sweep_forever

        interval = get_settings().sweep_interval_seconds
        threading.Thread(
            target=sweep_forever, args=(interval, stop), daemon=True, name="sweeper"
        ).start()
    if concurrency <= 1 and get_settings().export_processes > 1:
        from loadbay.exports.parallel import start_fork_server

        # Started now, the first big export does not wait for it (a second or so).
        threading.Thread(target=start_fork_server, daemon=True, name="fork-server").start()
    try:
        huey.create_consumer(**options).run()
    finally:
        stop.set()


def queue_depth() -> int:
    try:
        return int(huey.pending_count())
    except Exception:  # a queue that cannot answer is not a reason to fail a scrape
        return -1
