"""The lease heartbeat: renews while the work moves, stops when it is lost or stalls."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from loadbay.leases import Heartbeat, LeaseLost


def _beats(
    monkeypatch: pytest.MonkeyPatch, worker_for: Any, kept: bool = True
) -> tuple[list[datetime], Callable[[datetime], bool]]:
    """Leases of 1 s (a beat every third of it), idle after one lease; the renewals seen."""
    worker_for(lease_seconds=1)
    monkeypatch.setattr(Heartbeat, "IDLE_LEASES", 1)
    renewals: list[datetime] = []

    def renew(until: datetime) -> bool:
        renewals.append(until)
        return kept

    return renewals, renew


def test_renews_while_the_work_moves(monkeypatch: pytest.MonkeyPatch, worker_for: Any) -> None:
    renewals, renew = _beats(monkeypatch, worker_for)
    with Heartbeat(renew) as beat:
        for _ in range(8):
            time.sleep(0.25)
            beat.check()
    assert len(renewals) >= 5  # ~2 s of beats, the idle limit never reached
    assert renewals == sorted(renewals)


def test_stops_renewing_work_that_made_no_progress(
    monkeypatch: pytest.MonkeyPatch, worker_for: Any
) -> None:
    renewals, renew = _beats(monkeypatch, worker_for)
    with Heartbeat(renew) as beat:
        time.sleep(2.0)  # no check() for two leases: a hung upload, a stuck query
        stalled = len(renewals)
        time.sleep(0.6)
        assert len(renewals) == stalled  # nothing more after it stopped
        beat.check()  # not lost: only left to run out
    assert 2 <= stalled <= 4


def test_a_lost_lease_stops_the_work(monkeypatch: pytest.MonkeyPatch, worker_for: Any) -> None:
    renewals, renew = _beats(monkeypatch, worker_for, kept=False)
    with Heartbeat(renew) as beat:
        time.sleep(0.4)
        with pytest.raises(LeaseLost):
            beat.check()
        time.sleep(0.5)
    assert len(renewals) == 1  # the first renewal found it gone; no more after that
