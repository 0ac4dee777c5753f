"""The collector: tuned once per worker process, paused reentrantly, never switched off
by an export (which can run on an API request thread)."""

from __future__ import annotations

import gc
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from loadbay.gcpause import WORKER_THRESHOLDS, paused_gc


@pytest.fixture(autouse=True)
def _collector_on() -> Iterator[None]:
    gc.enable()
    yield
    gc.enable()


def test_a_pause_ending_in_one_thread_keeps_the_collector_off_for_another() -> None:
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, bool] = {}

    def a() -> None:
        with paused_gc():
            a_in.set()
            b_in.wait(5)
        a_out.set()

    def b() -> None:
        a_in.wait(5)
        with paused_gc():
            b_in.set()
            a_out.wait(5)
            seen["b inside after a left"] = gc.isenabled()
        seen["after both"] = gc.isenabled()

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert seen == {"b inside after a left": False, "after both": True}


def test_a_pause_ending_in_one_thread_never_leaves_the_collector_off() -> None:
    b_in, b_out = threading.Event(), threading.Event()

    def b() -> None:
        with paused_gc():
            b_in.set()
        b_out.set()

    with paused_gc():  # a enters first; b enters and leaves while a is inside
        thread = threading.Thread(target=b)
        thread.start()
        b_in.wait(5)
        b_out.wait(5)
        assert not gc.isenabled()
    thread.join(5)
    assert gc.isenabled()


def test_nested_pauses_and_a_collector_already_off() -> None:
    with paused_gc():
        with paused_gc():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    with paused_gc():
        pass
    assert not gc.isenabled()  # it was off before: it stays off


def test_a_worker_process_tunes_the_collector_once() -> None:
    code = (
        "import gc; from loadbay.gcpause import tune_worker_gc, worker_gc_tuned\n"
        "assert not worker_gc_tuned()\n"
        "tune_worker_gc(); frozen = gc.get_freeze_count(); tune_worker_gc()\n"
        "print(gc.isenabled(), gc.get_threshold(), frozen > 1000, worker_gc_tuned(),"
        " gc.get_freeze_count() == frozen)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split(" (")[0] == "True"
    assert out.stdout.strip() == f"True {WORKER_THRESHOLDS} True True True"
