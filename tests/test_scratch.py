"""A worker's scratch directory, and the cleanup of those of dead workers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from loadbay.scratch import this_space, use_own_scratch

SPACE = this_space()  # host name and pid namespace


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.fixture(autouse=True)
def _restore_tempdir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", None)  # restored after each test


def test_a_starting_worker_removes_scratch_of_dead_processes_only(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir(mode=0o700)
    dead = root / f"{SPACE}-{_dead_pid()}"
    (dead / "loadbay-export-x").mkdir(parents=True)
    (dead / "loadbay-export-x" / "part0").write_bytes(b"left by a SIGKILLed worker")
    alive = root / f"{SPACE}-{os.getppid()}"
    (alive / "loadbay-keys-y").mkdir(parents=True)
    other_host = root / f"another-host-{_dead_pid()}"  # a shared temp folder: not ours
    other_host.mkdir()
    other_container = root / f"{socket.gethostname()}-1-{_dead_pid()}"  # same name, other pids
    other_container.mkdir()
    stale_own = root / f"{SPACE}-{os.getpid()}"  # a dead process once had our pid
    (stale_own / "old").mkdir(parents=True)
    stray = root / "not-a-worker"
    stray.mkdir()

    mine = use_own_scratch(root)

    assert mine == stale_own and list(mine.iterdir()) == []
    assert not dead.exists()
    assert (alive / "loadbay-keys-y").is_dir() and other_host.is_dir() and stray.is_dir()
    assert other_container.is_dir()
    with tempfile.TemporaryDirectory() as scratch:
        assert Path(scratch).parent == mine
    (mine / "in-use").write_bytes(b"")
    assert use_own_scratch(root) == mine  # a second call (another worker thread) keeps it
    assert (mine / "in-use").exists()


def test_a_forked_worker_gets_a_directory_beside_its_parents(tmp_path: Path) -> None:
    root = tmp_path / f"loadbay-scratch-{os.getuid()}"
    parent = root / f"{SPACE}-{os.getppid()}"  # the pool's consumer, whose tempdir we inherit
    parent.mkdir(parents=True, mode=0o700)
    root.chmod(0o700)
    tempfile.tempdir = str(parent)
    mine = use_own_scratch()
    assert mine == root / f"{SPACE}-{os.getpid()}"  # a sibling, not nested in the parent's
    assert parent.is_dir()


def test_a_root_others_can_write_is_not_swept(tmp_path: Path) -> None:
    root = tmp_path / "shared"
    root.mkdir()
    root.chmod(0o777)
    dead = root / f"{SPACE}-{_dead_pid()}"
    dead.mkdir()
    mine = use_own_scratch(root)
    assert dead.is_dir()  # not trusted, not touched
    assert mine.parent != root and mine.is_dir()
    assert tempfile.gettempdir() == str(mine)


def test_the_worker_command_uses_its_own_scratch(tmp_path: Path) -> None:
    root = tmp_path / f"loadbay-scratch-{os.getuid()}"
    dead = root / f"{SPACE}-{_dead_pid()}"
    dead.mkdir(parents=True, mode=0o700)
    root.chmod(0o700)
    code = (
        "import tempfile, loadbay.worker.consumer as c\n"
        "c.load_tasks = lambda: (_ for _ in ()).throw(SystemExit(tempfile.gettempdir()))\n"
        "c.run_consumer()\n"
    )
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    reported = Path(done.stderr.strip().splitlines()[-1])
    assert reported.parent == root
    assert reported.name.startswith(f"{SPACE}-") and reported.name[len(SPACE) + 1 :].isdigit()
    assert not dead.exists()
