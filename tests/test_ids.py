"""Ids stay unique when API threads and bulk writers make them at the same time."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator

import pytest

from loadbay.ids import is_id, new_id, new_ids


@pytest.fixture
def _switch_often() -> Iterator[None]:
    # Threads switch every 5 ms by default, so a race in a few bytecodes shows up
    # only now and then; switching every microsecond makes it show every run.
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


@pytest.mark.usefixtures("_switch_often")
def test_threads_making_ids_never_get_the_same_one() -> None:
    per_thread = 40_000
    results: list[list[str]] = [[] for _ in range(8)]
    start = threading.Barrier(8)

    def make(out: list[str], bulk: bool) -> None:
        start.wait()
        if bulk:  # half the threads take blocks, as the chunk writer does
            while len(out) < per_thread:
                out.extend(new_ids(7))
        else:
            out.extend(new_id() for _ in range(per_thread))

    threads = [threading.Thread(target=make, args=(results[i], i % 2 == 1)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    made = [i for out in results for i in out]
    assert len(made) >= 8 * per_thread
    assert len(set(made)) == len(made)
    assert all(is_id(i) for i in made[:1000])


def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: write its ids and leave without running pytest's teardown
        os.close(read)
        os.write(write, ",".join(new_ids(100)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as f:
        child = set(f.read().split(","))
    os.waitpid(pid, 0)
    parent = set(new_ids(100))
    assert len(child) == 100
    assert not child & parent
    # the process part (bytes 4-9) differs, so the two never collide whatever the counters
    assert {i[8:18] for i in child}.isdisjoint({i[8:18] for i in parent})
