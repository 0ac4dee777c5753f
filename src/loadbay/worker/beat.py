"""A worker process's heartbeat row (see `loadbay.heartbeats`), written on a thread.

The row says the process lives; `last_task_at` says work moves. Huey runs tasks on the
consumer's threads, or in child processes (`--concurrency 2+`): a child records the
task it starts on a row of its own, at most once a second.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import datetime
from typing import Any

from huey.signals import SIGNAL_EXECUTING

from loadbay.db import get_database
from loadbay.heartbeats import beat, forget, worker_id
from loadbay.ids import utcnow
from loadbay.queue import huey
from loadbay.settings import get_settings

log = logging.getLogger("loadbay.worker")

_last_task: datetime | None = None
_beat_pid = 0
_started = utcnow()
_child_written = 0.0


def _task_started(_signal: str, _task: Any) -> None:
    global _last_task, _child_written
    _last_task = utcnow()
    if os.getpid() != _beat_pid and time.monotonic() - _child_written > 1:
        _child_written = time.monotonic()
        try:
            beat(get_database(), worker_id(), _started, _last_task)
        except Exception:  # a heartbeat must never fail a task
            log.warning("heartbeat not written", exc_info=True)


huey.signal(SIGNAL_EXECUTING)(_task_started)


def run_heartbeat(stop: threading.Event) -> None:
    """Write this process's row every `worker_heartbeat_seconds` until `stop`; then take
    it away (a worker that stops cleanly is not reported as dead)."""
    global _beat_pid
    _beat_pid = os.getpid()
    wid = worker_id()
    every = get_settings().worker_heartbeat_seconds
    while True:
        try:
            beat(get_database(), wid, _started, _last_task)
        except Exception:  # the database is away: the next beat tries again
            log.warning("heartbeat not written", exc_info=True)
        if stop.wait(every):
            break
    try:
        forget(get_database(), wid)
    except Exception:
        log.warning("heartbeat row not removed", exc_info=True)


def start_heartbeat() -> threading.Event:
    stop = threading.Event()
    threading.Thread(target=run_heartbeat, args=(stop,), daemon=True, name="heartbeat").start()
    return stop
