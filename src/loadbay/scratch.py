"""Scratch space a worker can lose without leaking it.

Every temporary file a worker makes (chunk keys, failed-rows files, export parts, local
copies of stored files) goes through `tempfile`. A worker killed with SIGKILL cannot
clean up after itself, so each worker gets a directory of its own, named by its pid,
under one root; a worker that starts removes the directories of processes that are gone.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

log = logging.getLogger("loadbay.scratch")
ROOT_NAME = "loadbay-scratch"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def use_own_scratch(root: Path | None = None) -> Path:
    """Point `tempfile` at this process's own directory; remove those of dead processes."""
    base = root or Path(tempfile.gettempdir()) / ROOT_NAME
    base.mkdir(parents=True, exist_ok=True)
    me = os.getpid()
    removed = 0
    for entry in base.iterdir():
        if not entry.name.isdigit() or not entry.is_dir():
            continue
        pid = int(entry.name)
        if pid == me or not _alive(pid):  # our pid's old directory is a dead process's too
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
    mine = base / str(me)
    mine.mkdir()
    tempfile.tempdir = str(mine)
    if removed:
        log.info("removed scratch of dead processes", extra={"directories": removed})
    return mine
