"""The heartbeat that keeps a lease while work runs (every step: plan, chunk, finalize,
export), and what counts as a transient failure.

Leases are rows (`lease_owner`, `lease_expires`) claimed with a conditional UPDATE; the
sweeper re-enqueues work whose lease ran out. Leases are short (15 s by default) so a
dead worker's work is taken over in seconds; work renews its lease on a thread every
third of the lease, so neither a slow step (writing to S3, a million failed rows) nor
Python being busy can let it lapse while its process lives.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from loadbay.ids import utcnow
from loadbay.settings import get_settings

log = logging.getLogger("loadbay.leases")


class LeaseLost(Exception):
    """Another claim took the work over after this one's lease ran out."""


class HandBack(Exception):
    """This process is stopping (SIGTERM): the step gives its work back, uncounted, so
    another worker takes it at once instead of waiting for the lease to run out."""


# Set by the worker on SIGTERM; every step sees it at its next `Heartbeat.check`.
stopping = threading.Event()


class Heartbeat:
    """Calls `renew(new_expiry)` every third of the lease until the block ends.

    `renew` returns whether this claim still holds the lease; once it does not, `lost`
    is set and renewing stops: the work should stop too (`check`), and must never record
    an outcome (its final UPDATE is conditional on the owner as well).

    The beat says the process lives, not that the work moves: work that has not called
    `check` for `IDLE_LEASES` leases (a hung upload, a stuck query) stops being renewed,
    so its lease runs out and the sweeper hands the work to another worker."""

    IDLE_LEASES = 4

    def __init__(self, renew: Callable[[datetime], bool], **context: Any) -> None:
        self.renew, self.context = renew, context
        self.touched = time.monotonic()
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="lease-heartbeat")

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def check(self) -> None:
        """Called as the work moves on: raises LeaseLost once another claim has it, and
        HandBack once this process is stopping."""
        self.touched = time.monotonic()
        if self.lost.is_set():
            raise LeaseLost(str(self.context))
        if stopping.is_set():
            raise HandBack(str(self.context))

    def _run(self) -> None:
        while not self._stop.wait(lease_seconds() / 3):
            if time.monotonic() - self.touched > self.IDLE_LEASES * lease_seconds():
                log.warning(
                    "work made no progress; its lease is left to run out", extra=self.context
                )
                return
            try:
                kept = self.renew(utcnow() + timedelta(seconds=lease_seconds()))
            except Exception:  # a database hiccup: the next beat tries again
                log.warning("lease not renewed", extra=self.context, exc_info=True)
                continue
            if not kept:
                log.warning("lease lost", extra=self.context)
                self.lost.set()
                return


def lease_seconds() -> int:
    return get_settings().lease_seconds


def is_transient(exc: BaseException) -> bool:
    """A failure worth another attempt that does not count as one: the database or the
    store was unreachable (DECISIONS, "Attempts")."""
    if isinstance(exc, DBAPIError):
        return bool(exc.connection_invalidated) or isinstance(exc, sa.exc.OperationalError)
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    # A store that answered (a missing key, access denied: botocore's ClientError) is not
    # an outage: retried without counting, it would never end.
    name = type(exc).__name__
    return name != "ClientError" and type(exc).__module__.startswith(
        ("botocore", "urllib3", "redis")
    )


def error_text(exc: BaseException) -> str:
    """A step's error as the job shows it: the kind and its message, never a trace."""
    message = getattr(exc, "message", None) or str(exc)
    return f"{type(exc).__name__}: {message}"[:500] if message else type(exc).__name__
