"""Holding load: admission control sheds with 503 server-036, the thread pool and the
database pool are sized together, and a burst against a real server gets only 200s or
503s (never a 500, a timeout or a dropped connection).

A real uvicorn serves the real app in a thread; the clients are raw sockets, so a
hundred of them cost the test nothing."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import anyio.to_thread
import orjson
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from loadbay.db import Database
from loadbay.settings import Settings


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    def __init__(self, app: FastAPI) -> None:
        self.port = _free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_config=None)
        config.backlog = 2048
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def serve() -> Iterator[Callable[[FastAPI], Served]]:
    running: list[Served] = []

    def _serve(app: FastAPI) -> Served:
        running.append(Served(app))
        return running[-1]

    yield _serve
    for s in running:
        s.stop()


async def _get(port: int, path: str, headers: dict[str, str], timeout: float = 10) -> Any:
    """(status, headers, body, seconds) or the exception (a timeout, a dropped connection)."""
    started = time.perf_counter()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        writer.write(f"GET {path} HTTP/1.1\r\nHost: t\r\n{extra}Connection: close\r\n\r\n".encode())
        raw = await asyncio.wait_for(reader.read(), timeout)
        writer.close()
    except (OSError, TimeoutError) as exc:
        return exc
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    found = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), found, body, time.perf_counter() - started


def _gather(port: int, paths: list[str], headers: dict[str, str]) -> list[Any]:
    async def run() -> list[Any]:
        return await asyncio.gather(*(_get(port, p, headers) for p in paths))

    return asyncio.run(run())


def test_pool_and_threads_are_sized_together(
    make_app: Callable[..., FastAPI], sqlite_db: Database
) -> None:
    app = make_app(api_concurrency=5)
    settings: Settings = app.state.settings
    assert settings.api_threads >= 2 * settings.api_concurrency  # admitted + ungated
    for url in (sqlite_db.url, "postgresql+psycopg://u@127.0.0.1:1/none"):
        db = Database(url)  # engines connect lazily: no server needed to read the pool
        for engine in {db.engine, db.read_engine}:
            pool: Any = engine.pool
            # A connection for every thread, and a second one for each (a read beside a write).
            assert pool.size() == settings.api_threads
            assert pool.size() + pool._max_overflow >= 2 * settings.api_threads
        db.dispose()
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        limiter = client.portal.call(anyio.to_thread.current_default_thread_limiter)
        assert limiter.total_tokens == settings.api_threads


def test_saturated_api_sheds_with_the_envelope_and_retry_after(
    make_app: Callable[..., FastAPI], sqlite_db: Database, serve: Callable[[FastAPI], Served]
) -> None:
    app = make_app(api_concurrency=2, api_max_wait_seconds=1.0)
    inside = threading.Semaphore(0)

    @app.get("/api/v3/slow")
    def slow() -> dict[str, bool]:  # holds a thread and a pooled connection
        with sqlite_db.read() as session:
            session.connection().exec_driver_sql("SELECT 1")
            inside.release()
            time.sleep(1.5)
        return {"status": True}

    port = serve(app).port
    holders = threading.Thread(target=_gather, args=(port, ["/api/v3/slow"] * 2, {}))
    holders.start()
    for _ in range(2):
        assert inside.acquire(timeout=5)
    time.sleep(0.6)  # both places held for longer than any poll takes: saturated

    async def burst() -> tuple[list[Any], Any]:
        shed = asyncio.gather(*(_get(port, "/api/v3/slow", {}) for _ in range(20)))
        await asyncio.sleep(0.05)
        health = await _get(port, "/healthz", {})  # exempt: answers while saturated
        return await shed, health

    answers, health = asyncio.run(burst())
    holders.join(10)
    assert health[0] == 200
    assert all(not isinstance(a, Exception) for a in answers), answers
    assert {a[0] for a in answers} <= {200, 503}
    sheds = [a for a in answers if a[0] == 503]
    assert len(sheds) >= 10
    for _, headers, body, _seconds in sheds:
        assert headers["retry-after"] == "1"
        assert headers["content-type"] == "application/json"
        assert orjson.loads(body) == {
            "status": False,
            "message": "The service is busy; retry after the number of seconds in Retry-After",
            "failedCode": "server-036",
        }
    fast = [s for s in sheds if s[3] < 0.1]
    assert len(fast) >= 10, [round(s[3], 3) for s in sheds]


def test_a_burst_against_a_real_server_gets_only_answers_or_sheds(
    sqlite_db: Database,
    token_for: Callable[..., str],
    serve: Callable[[FastAPI], Served],
) -> None:
    from loadbay.api import create_app

    port = serve(create_app(run_migrations=False)).port
    auth = {"Authorization": f"Bearer {token_for()}"}
    paths = ["/api/v3/import-monitoring?limit=20", "/api/v3/import-jobs/none"] * 200
    started = time.perf_counter()
    answers = _gather(port, paths, auth)
    took = time.perf_counter() - started
    failures = [a if isinstance(a, Exception) else a[:3] for a in answers
                if isinstance(a, Exception) or a[0] not in (200, 404, 503)]  # fmt: skip
    assert not failures, failures[:3]
    assert took < 10
    # The load gone, a poll is answered at once.
    after = _gather(port, ["/api/v3/import-monitoring?limit=20"], auth)[0]
    assert after[0] == 200 and after[3] < 1


def test_under_sustained_overload_sheds_come_fast_not_after_the_whole_wait() -> None:
    """A burst may wait up to api_max_wait_seconds for a place; once the gate has shed,
    it is overloaded, and a newcomer is answered within about a tenth of a second
    instead of waiting the whole second for a place that will not come."""
    from loadbay.admission import Gate

    async def run() -> tuple[float, float, bool]:
        gate = Gate(slots=1, max_wait=1.0)
        held = await gate.enter()
        assert held is not None
        gate.hold = 0.01  # polls have been quick: a short line is expected to get in
        started = time.monotonic()
        first = await gate.enter()  # waits the whole second, then is shed
        first_took = time.monotonic() - started
        assert first is None
        gate.leave(held)  # the place goes to a fresh holder, which keeps it
        fresh = await gate.enter()
        assert fresh is not None
        gate.hold = 0.01
        started = time.monotonic()
        later = await gate.enter()  # expected in at once, but no place comes
        later_took = time.monotonic() - started
        gate.leave(fresh)
        return first_took, later_took, later is None

    first_took, later_took, shed = asyncio.run(run())
    assert first_took >= 0.9
    assert shed
    assert later_took < 0.3, later_took


def test_an_overloaded_gate_recovers_and_lets_a_burst_wait_again() -> None:
    from loadbay.admission import Gate

    async def run() -> bool:
        gate = Gate(slots=1, max_wait=1.0)
        held = await gate.enter()
        assert held is not None
        gate.hold = 0.01
        gate._overloaded(time.monotonic() - 2.0)  # a shed two seconds ago: over
        waiter = asyncio.ensure_future(gate.enter())
        await asyncio.sleep(0.3)  # longer than the overload wait: still in line
        assert not waiter.done()
        gate.leave(held)
        ticket = await waiter
        return ticket is not None

    assert asyncio.run(run())


def test_a_waiter_in_line_keeps_its_place_when_the_overload_begins() -> None:
    """Shedding the waiters already in line when a newcomer is shed answered them after
    100-160 ms, the slowest sheds of all; they were expected in, and they get in."""
    from loadbay.admission import Gate

    async def run() -> tuple[bool, int | None]:
        gate = Gate(slots=1, max_wait=1.0)
        held = await gate.enter()
        assert held is not None
        gate.hold = 0.01
        waiter = asyncio.ensure_future(gate.enter())
        await asyncio.sleep(0.15)  # in line for longer than the overload's wait
        gate._overloaded(time.monotonic())  # a shed elsewhere
        await asyncio.sleep(0.05)
        still_waiting = not waiter.done()
        gate.leave(held)
        return still_waiting, await waiter

    still_waiting, ticket = asyncio.run(run())
    assert still_waiting
    assert ticket is not None


def test_a_slow_line_sheds_a_newcomer_at_once_even_when_holds_look_short() -> None:
    """A holder's own time misses the event loop's turns and the GIL: at twice the
    capacity the holds said 'in within 50 ms' while the line moved at a tenth of that,
    and every such newcomer waited the whole budget to be shed. How fast places have
    been handed on says it: the newcomer is answered at once."""
    from loadbay.admission import Gate

    async def run() -> tuple[int | None, float]:
        gate = Gate(slots=1, max_wait=1.0)
        held = await gate.enter()
        assert held is not None
        gate.hold = 0.005  # each holder is quick...
        now = time.monotonic()
        gate.handed_on.extend(now - 0.9 + 0.1 * i for i in range(10))  # ...the line is not
        ahead = [asyncio.ensure_future(gate.enter()) for _ in range(2)]
        await asyncio.sleep(0)
        gate._overloaded(time.monotonic())
        started = time.monotonic()
        newcomer = await gate.enter()
        took = time.monotonic() - started
        for w in ahead:
            w.cancel()
        await asyncio.gather(*ahead, return_exceptions=True)
        gate.leave(held)
        return newcomer, took

    newcomer, took = asyncio.run(run())
    assert newcomer is None
    assert took < 0.02, took  # at once, not after the 50 ms overload wait


def test_when_an_overload_begins_the_back_of_the_line_is_answered_at_once() -> None:
    """Waiters that came under the burst allowance (a second) would wait up to that long
    for a place that is not coming; when the first shed says the overload began, the
    newest beyond what moves in the short wait are answered 503 at once."""
    from loadbay.admission import Gate

    async def run() -> tuple[list[int | None], float]:
        gate = Gate(slots=1, max_wait=1.0)
        held = await gate.enter()
        assert held is not None
        gate.hold = 0.02  # 50 places a second: the 50 ms wait moves two
        line = [asyncio.ensure_future(gate.enter()) for _ in range(6)]
        await asyncio.sleep(0)
        started = time.monotonic()
        gate._overloaded(started)  # the first shed
        await asyncio.sleep(0.01)
        cut = [w for w in line if w.done()]
        took = time.monotonic() - started
        gate.leave(held)
        results = [await w for w in line]
        for ticket in results:
            if ticket is not None:
                gate.leave(ticket)
        return [w.result() for w in cut], took

    cut, took = asyncio.run(run())
    assert len(cut) == 4 and all(r is None for r in cut)  # the front two keep their places
    assert took < 0.05


def test_a_quiet_gap_between_bursts_is_not_taken_for_a_slow_line() -> None:
    """The line's speed was measured from the oldest hand-on of the last second, across
    the quiet gap after a burst: a second burst was judged to move at a third of its
    speed and shed. When the line empties, its speed is measured afresh."""
    from loadbay.admission import Gate

    async def run() -> tuple[int, int | None]:
        gate = Gate(slots=1, max_wait=1.0)
        gate.hold = 0.01
        held = await gate.enter()
        assert held is not None
        waiter = asyncio.ensure_future(gate.enter())
        await asyncio.sleep(0)
        now = time.monotonic()
        gate.handed_on.extend(now - 0.95 + 0.01 * i for i in range(10))  # the first burst
        gate.leave(held)  # to the waiter
        ticket = await waiter
        assert ticket is not None
        gate.leave(ticket)  # nobody waits: the line is gone
        remembered = len(gate.handed_on)
        # The next burst: the holder is in, and 60 ahead of a newcomer move at 100/s
        # by the holds (0.6 s, within the second); the old burst said 10/s (6 s).
        first = await gate.enter()
        ahead = [asyncio.ensure_future(gate.enter()) for _ in range(60)]
        await asyncio.sleep(0)
        newcomer = asyncio.ensure_future(gate.enter())
        await asyncio.sleep(0.01)
        shed_at_once = newcomer.done() and newcomer.result() is None
        for w in [*ahead, newcomer]:
            w.cancel()
        await asyncio.gather(*ahead, newcomer, return_exceptions=True)
        assert first is not None
        return remembered, None if shed_at_once else 1

    remembered, newcomer_waits = asyncio.run(run())
    assert remembered == 0
    assert newcomer_waits == 1
