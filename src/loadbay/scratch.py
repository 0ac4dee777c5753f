"""Scratch space a worker can lose without leaking it.

Every temporary file a worker makes (chunk keys, failed-rows files, export parts, local
copies of stored files) goes through `tempfile`. A worker killed with SIGKILL cannot
clean up after itself, so each worker process gets a directory of its own, named by
host, pid namespace and pid, under one root private to the user; a worker that starts
removes the directories its own namespace's dead processes left behind. Directories of
other hosts or containers (a temp folder shared between them, even under one host name)
are never touched: their pids mean nothing here.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import stat
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


def _private_root(base: Path) -> Path | None:
    """`base`, made if need be, when it is a real directory of ours that only we can use."""
    try:
        base.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.lstat(base)
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        return None
    return base


def _default_root() -> Path:
    """The root in the system's temp folder. A process forked from a worker (Huey's
    process pool) inherits that worker's directory as its temp folder: its root is the
    same, two levels up, never a new one inside the parent's directory."""
    current = Path(tempfile.gettempdir())
    if current.parent.name.startswith(ROOT_NAME):
        return current.parent
    return current / f"{ROOT_NAME}-{os.getuid()}"


def this_space() -> str:
    """Where a pid means this process's neighbours: host name and pid namespace."""
    try:
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        namespace = 0
    return f"{socket.gethostname()}-{namespace}"


def use_own_scratch(root: Path | None = None) -> Path:
    """Point `tempfile` at this process's own directory, and remove those this namespace's
    dead processes left (done once per process; later calls return the same directory)."""
    space, me = this_space(), os.getpid()
    if tempfile.tempdir and Path(tempfile.tempdir).name == f"{space}-{me}":
        return Path(tempfile.tempdir)
    base = _private_root(root or _default_root())
    if base is None:  # someone else's or a shared directory: a fresh private one, no sweeping
        mine = Path(tempfile.mkdtemp(prefix=f"{ROOT_NAME}-"))
        tempfile.tempdir = str(mine)
        return mine
    removed = 0
    for entry in base.iterdir():
        owner, _, pid = entry.name.rpartition("-")
        if owner != space or not pid.isdigit() or entry.is_symlink() or not entry.is_dir():
            continue
        if int(pid) == me or not _alive(int(pid)):  # our pid's old directory is a dead one's
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
    mine = base / f"{space}-{me}"
    mine.mkdir(mode=0o700)
    tempfile.tempdir = str(mine)
    if removed:
        log.info("removed scratch of dead processes", extra={"directories": removed})
    return mine
