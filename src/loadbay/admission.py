"""Admission control: shed load with 503 `server-036` instead of queueing into timeouts.

Sync endpoints run on AnyIO's thread pool and hold a pooled database connection across
several thread hops (dependency, handler, response validation, dependency exit). With
more requests in flight than connections, every thread ended up waiting for a
connection held by a request that was itself waiting for a thread: the API stalled for
the pool's 30 s timeout, then answered 500. Here at most `api_concurrency` polls and
views are past the gate at once; the thread pool has room for all of them plus the
ungated requests (`api_threads`), and the database pool has room for two connections a
thread (`db_pool_size`), so an admitted request never waits for either.

A request that finds the gate full waits (asynchronously: no thread, no connection) if
its expected wait is under `api_max_wait_seconds`, and is answered 503 with
`Retry-After` at once otherwise (`Gate.expected_wait`); one whose wait turns out
longer is answered the same when it runs out.

That wait absorbs a passing burst, but under sustained overload it only delays the
answer: every shed would come after the full second. So the gate remembers its last
shed, as CoDel remembers a queue that stayed long: for `_OVERLOAD_HOLD_SECONDS` after
one, a newcomer may wait only `_OVERLOAD_WAIT_SECONDS`, and a client past capacity
hears 503 at once (its wait is expected too long) or after that short wait (it turned
out so). When the overload begins, the line is cut to what moves within that short
wait, from its back: the newest waiters are answered at once, and those who waited
longest keep their places (cutting by age instead, as before, shed the oldest after
100-160 ms, the slowest sheds of all; keeping everyone let the back wait a second). The expected wait counts how fast the line has been moving, not
only how long a holder holds (see `expected_wait`).

Measured with bench/load_test.py --polls (bench/RESULTS.md, "Polling load, wave 2"):
sheds answered in ~90 ms at the 99th percentile at 2,000 clients, twice the capacity.

Gated: GET and HEAD (the volume: monitoring polls and job views), except the health
checks, `/metrics` and file downloads (long streams). Writes are few, and some wait long
on purpose (uploads stream, a confirm waits for the job, a direct export for its
process); they keep the thread pool's reserve.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import time
from typing import Any

import anyio.to_thread
import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from loadbay.errors import envelope
from loadbay.settings import Settings, get_settings

SHED_CODE = "server-036"
SHED_MESSAGE = "The service is busy; retry after the number of seconds in Retry-After"
EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
EXEMPT_PREFIXES = ("/api/v3/files/",)
# An admitted request's hold is counted at most this long in the estimate: one slow
# request must not make the gate shed everything behind it for the next minute.
_HOLD_CAP_SECONDS = 1.0
# After a shed the gate is overloaded for this long, and a newcomer may wait only this.
_OVERLOAD_HOLD_SECONDS = 1.0
_OVERLOAD_WAIT_SECONDS = 0.05
# The line's speed is measured over the last this many hand-ons within this many seconds,
# and trusted from this many on.
_RATE_WINDOW, _RATE_SECONDS, _RATE_MIN = 64, 1.0, 8


def gated(scope: Scope) -> bool:
    if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
        return False
    path: str = scope["path"]
    return path not in EXEMPT_PATHS and not path.startswith(EXEMPT_PREFIXES)


class _Shed(Exception):
    """Given to a waiter cut from the line when an overload begins."""


class Gate:
    """At most `slots` holders; a newcomer waits in line only when the line is expected
    to let it in within `max_wait` seconds."""

    def __init__(self, slots: int, max_wait: float) -> None:
        self.slots, self.max_wait = slots, max_wait
        self.free = slots
        self.waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self.holders: dict[int, float] = {}  # ticket → when its holder got in
        self.tickets = itertools.count()
        self.hold = 0.05  # running mean of a holder's time, seconds
        self.overloaded_until = 0.0  # monotonic time; see the module's note
        # When places were handed on to someone in line: how fast the line moves.
        self.handed_on: collections.deque[float] = collections.deque(maxlen=_RATE_WINDOW)
        self.queued_at: dict[asyncio.Future[None], float] = {}  # waiter → when it came

    def budget(self, now: float) -> float:
        """How long a newcomer may wait: `max_wait`, or less while overloaded."""
        if now < self.overloaded_until:
            return min(self.max_wait, _OVERLOAD_WAIT_SECONDS)
        return self.max_wait

    def _overloaded(self, now: float) -> None:
        """A shed happened: newcomers may wait only briefly for the next while. When the
        overload begins, the line is cut to what moves within that brief wait, from its
        back, among those who have not waited longer than that: each is answered at once
        instead of waiting its whole second for a place. Who has waited longer keeps the
        place (shedding them now would be the slowest sheds of all)."""
        beginning = now >= self.overloaded_until
        self.overloaded_until = now + _OVERLOAD_HOLD_SECONDS
        if not beginning:
            return
        rate = self._line_speed(now) or self.slots / max(self.hold, 1e-3)
        keep = max(1, int(rate * _OVERLOAD_WAIT_SECONDS))
        while len(self.waiters) > keep:
            waiter = self.waiters[-1]
            if now - self.queued_at.get(waiter, now) > _OVERLOAD_WAIT_SECONDS:
                break
            self.waiters.pop()
            self.queued_at.pop(waiter, None)
            if not waiter.done():
                waiter.set_exception(_Shed())

    def _line_speed(self, now: float) -> float | None:
        """Places handed on per second lately, when enough were to tell."""
        recent = [t for t in self.handed_on if t > now - _RATE_SECONDS]
        if len(recent) >= _RATE_MIN and recent[-1] > recent[0]:
            return (len(recent) - 1) / (recent[-1] - recent[0])
        return None

    def expected_wait(self, now: float) -> float:
        """The line ahead, times how long a place is held, shared by the slots. Holders
        that are all still in after longer than the mean (a stuck pool, a slow disk)
        count with their own age, so a stall sheds at once instead of after max_wait."""
        youngest = now - max(self.holders.values(), default=now)
        ahead = len(self.waiters) + 1
        by_hold = ahead * max(self.hold, youngest) / self.slots
        # A full gate's line moves at the rate places are handed on, which also counts
        # what a holder's own time misses: the event loop's turns and the other threads
        # on the GIL. Trusting the hold alone let in waiters that then timed out at the
        # budget, each shed after 100 ms or more instead of at once.
        rate = self._line_speed(now)
        return max(by_hold, ahead / rate) if rate else by_hold

    async def enter(self) -> int | None:
        """A ticket once admitted (give it to `leave`); None when shed: at once when the
        wait is expected to be too long, or after `max_wait` when it turned out so."""
        now = time.monotonic()
        if self.free > 0 and not self.waiters:
            self.free -= 1
            return self._admit(now)
        budget = self.budget(now)
        if self.expected_wait(now) > budget:
            self._overloaded(now)
            return None
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        self.queued_at[waiter] = now
        try:
            # On a timeout wait_for cancels the waiter, unless the place came meanwhile.
            await asyncio.wait_for(waiter, budget)
        except TimeoutError:
            self._forget(waiter)
            if waiter.done() and not waiter.cancelled():
                # Python 3.12+ raises the timeout even when the place (or the cut) came
                # in the same loop pass: take the place rather than lose it.
                return self._admit(time.monotonic()) if waiter.exception() is None else None
            self._overloaded(time.monotonic())
            return None
        except _Shed:  # cut from the line's back when an overload began
            return None
        except asyncio.CancelledError:  # the client went away while waiting
            self._forget(waiter)
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._pass_on()  # given the place in the same instant
            raise
        self.queued_at.pop(waiter, None)
        return self._admit(time.monotonic())

    def _admit(self, now: float) -> int:
        ticket = next(self.tickets)
        self.holders[ticket] = now
        return ticket

    def leave(self, ticket: int) -> None:
        held = time.monotonic() - self.holders.pop(ticket)
        self.hold += (min(held, _HOLD_CAP_SECONDS) - self.hold) * 0.1
        if self.waiters:
            self.handed_on.append(time.monotonic())
        self._pass_on()

    def _pass_on(self) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the place goes straight to the next in line
                return
        self.free += 1
        # The line is gone: its speed is measured afresh when one forms again (a quiet
        # gap between two bursts is not a slow line).
        self.handed_on.clear()

    def _forget(self, waiter: asyncio.Future[None]) -> None:
        self.queued_at.pop(waiter, None)
        with contextlib.suppress(ValueError):
            self.waiters.remove(waiter)


class AdmissionMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware): a shed costs no thread, no task, no body read."""

    def __init__(self, app: ASGIApp, settings: Settings | None = None) -> None:
        self.app = app
        self.settings = settings or get_settings()
        self.gate = Gate(self.settings.api_concurrency, self.settings.api_max_wait_seconds)
        self.sized = False
        self.shed = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.sized and scope["type"] in ("http", "websocket"):
            # The limiter belongs to the running event loop: sized on its first request.
            anyio.to_thread.current_default_thread_limiter().total_tokens = (
                self.settings.api_threads
            )
            self.sized = True
        if not gated(scope):
            await self.app(scope, receive, send)
            return
        ticket = await self.gate.enter()
        if ticket is None:
            self.shed += 1
            await _shed(send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.gate.leave(ticket)


async def _shed(send: Send) -> None:
    body = orjson.dumps(envelope(SHED_MESSAGE, SHED_CODE))
    headers: list[tuple[bytes, bytes]] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", b"1"),
    ]
    start: Message = {"type": "http.response.start", "status": 503, "headers": headers}
    await send(start)
    await send({"type": "http.response.body", "body": body})


def gate_of(app: Any) -> AdmissionMiddleware | None:
    """The admission middleware of a built app's stack (tests, metrics)."""
    layer = getattr(app, "middleware_stack", None)
    while layer is not None:
        if isinstance(layer, AdmissionMiddleware):
            return layer
        layer = getattr(layer, "app", None)
    return None
