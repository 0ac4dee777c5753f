"""Tasks are enqueued by name through one seam; a name nothing registered is an error,
at start-up (`require`) and when enqueued, never a silent no-op."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from loadbay.queue import TASK_NAMES, UnknownTask, enqueue, load_tasks, require


def test_every_task_name_is_registered_once_the_task_modules_load() -> None:
    load_tasks()
    require()  # what `loadbay worker` and the API check before they start
    assert set(TASK_NAMES) == {"plan", "chunk", "finalize", "export", "review", "revert", "webhook"}


def test_a_missing_registration_is_an_error_at_start_up() -> None:
    load_tasks()
    with pytest.raises(UnknownTask, match="no task registered as undo"):
        require((*TASK_NAMES, "undo"))


def test_enqueueing_an_unknown_name_raises() -> None:
    with pytest.raises(UnknownTask, match="no task registered as nope"):
        enqueue("nope", "x")


def test_importing_the_queue_builds_nothing_and_first_use_finds_the_settings_queue(
    tmp_path: Path,
) -> None:
    """The queue was built when `loadbay.queue` was imported, from whatever settings the
    process had then (creating its SQLite file in that data folder). Now it is attached
    at start-up; a process that never configured it gets its settings' queue on first
    use, so nothing enqueued goes nowhere."""
    data = tmp_path / "data"
    script = (
        "import os, sys\n"
        "import loadbay.queue as q\n"
        "from loadbay.queue import load_tasks\n"
        "load_tasks()\n"
        f"print(os.path.exists({str(data)!r}))\n"
        "print(q.queue_depth())\n"  # the first use
        f"print(os.path.exists({str(data / 'queue.db')!r}))\n"
    )
    env = {**os.environ, "LOADBAY_DATA_DIR": str(data)}
    env.pop("LOADBAY_QUEUE_URL", None)
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["False", "0", "True"]


def test_a_task_called_before_anything_configured_the_queue_runs_as_its_settings_say(
    tmp_path: Path,
) -> None:
    """A task called directly (webhook deliveries are, and `.schedule` retries) bypassed
    the check `enqueue` makes: Huey read 'not immediate' before the deferred storage
    attached the `memory://` queue, and the task sat in memory, never run."""
    script = "import loadbay.queue as q\n@q.huey.task()\ndef hello():\n    print('ran')\nhello()\n"
    env = {**os.environ, "LOADBAY_DATA_DIR": str(tmp_path), "LOADBAY_QUEUE_URL": "memory://"}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["ran"]
