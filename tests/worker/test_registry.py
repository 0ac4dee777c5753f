"""Tasks are enqueued by name through one seam; a name nothing registered is an error,
at start-up (`require`) and when enqueued, never a silent no-op."""

from __future__ import annotations

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
