"""A worker's scratch directory, and the cleanup of those of dead workers."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from loadbay.scratch import use_own_scratch


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_starting_worker_removes_scratch_of_dead_processes_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", tempfile.tempdir)  # restored after the test
    dead = tmp_path / str(_dead_pid())
    (dead / "loadbay-export-x").mkdir(parents=True)
    (dead / "loadbay-export-x" / "part0").write_bytes(b"left by a SIGKILLed worker")
    alive = tmp_path / str(os.getppid())
    (alive / "loadbay-keys-y").mkdir(parents=True)
    stale_own = tmp_path / str(os.getpid())  # a dead process once had our pid
    (stale_own / "old").mkdir(parents=True)
    other = tmp_path / "not-a-pid"
    other.mkdir()

    mine = use_own_scratch(tmp_path)

    assert mine == stale_own and list(mine.iterdir()) == []
    assert not dead.exists()
    assert (alive / "loadbay-keys-y").is_dir() and other.is_dir()
    with tempfile.TemporaryDirectory() as scratch:
        assert Path(scratch).parent == mine


def test_the_worker_command_uses_its_own_scratch(tmp_path: Path) -> None:
    dead = tmp_path / "loadbay-scratch" / str(_dead_pid())
    dead.mkdir(parents=True)
    code = (
        "import tempfile, loadbay.queue as q, loadbay.scratch as s\n"
        "q.load_tasks = lambda: (_ for _ in ()).throw(SystemExit(tempfile.gettempdir()))\n"
        "q.run_consumer()\n"
    )
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    reported = Path(done.stderr.strip().splitlines()[-1])
    assert reported.parent == tmp_path / "loadbay-scratch"
    assert not dead.exists()
