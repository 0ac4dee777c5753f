"""`loadbay worker`: a Huey consumer with its sweeper, heartbeat and scratch folder."""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from loadbay.db import get_database
from loadbay.leases import stopping
from loadbay.queue import attach, configure, huey, load_tasks, require
from loadbay.settings import Settings, get_settings
from loadbay.storage import get_storage
from loadbay.worker.beat import start_heartbeat
from loadbay.worker.sweeper import sweep_forever

log = logging.getLogger("loadbay.worker")


def _own_scratch() -> None:
    """Each worker (a process of its own with `--concurrency 2+`) keeps its temporary
    files apart, so a worker killed alone leaves nothing behind for long."""
    from loadbay.scratch import use_own_scratch

    use_own_scratch()


huey.on_startup()(_own_scratch)


def run_consumer(
    concurrency: int = 1, periodic: bool = True, settings: Settings | None = None
) -> None:
    """Run a consumer in this process (its main thread: Huey installs signal handlers),
    for `settings` (default: the environment's): its database, storage and queue are
    built here, before any task runs, so a wrong URL stops the worker at once."""
    if settings is not None:
        get_settings.use(settings)
        configure(settings)
    else:
        attach()  # the environment's queue, built now, not at import
    settings = get_settings()
    get_database(settings)
    get_storage(settings)
    _own_scratch()
    load_tasks()
    require()  # a task name without a task stops the worker here, not later in silence
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
    beat_stop = start_heartbeat()
    if periodic:
        interval = settings.sweep_interval_seconds
        threading.Thread(
            target=sweep_forever, args=(interval, stop), daemon=True, name="sweeper"
        ).start()
    if concurrency <= 1 and settings.export_processes > 1:
        from loadbay.exports.parallel import start_fork_server

        # Started now, the first big export does not wait for it (a second or so).
        threading.Thread(target=start_fork_server, daemon=True, name="fork-server").start()
    consumer = huey.create_consumer(**options)
    consumer._handle_stop_signal = _graceful(consumer)
    try:
        consumer.run()
    finally:
        stop.set()
        beat_stop.set()


HAND_BACK_SECONDS = 10.0


def _graceful(consumer: Any) -> Any:
    """SIGTERM (a deploy, `serve` stopping): take no more work, have the step in flight
    finish or hand its work back at its next check (`leases.stopping`), then exit; a
    step still running after HAND_BACK_SECONDS is left to its lease.

    Huey's own SIGTERM stops at once and abandons the step in flight, so the next worker
    waits a whole lease for it; its graceful stop (SIGINT) waits without a bound."""

    def handle(_signum: int, _frame: Any) -> None:
        log.info("worker stopping: handing back what it holds")
        stopping.set()
        consumer._received_signal = True
        consumer._graceful = True
        timer = threading.Timer(HAND_BACK_SECONDS, _exit_now)
        timer.daemon = True
        timer.start()

    return handle


def _exit_now() -> None:
    log.warning("work not handed back in time; its lease runs out instead")
    logging.shutdown()
    os._exit(1)
