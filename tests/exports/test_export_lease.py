"""Background exports are leased: a dead worker's export is handed to another worker,
the lease is renewed while the file is written, and only the lease holder finishes it."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from typing import Any

import pytest

from loadbay.db import Database, table_of
from loadbay.exports import service, writing
from loadbay.exports import state as export_state
from loadbay.exports.models import ExportLog
from loadbay.exports.plan import ExportPlan
from loadbay.exports.tasks import count_unclaimed, fail_stale_exports
from loadbay.ids import utcnow
from loadbay.settings import get_settings
from loadbay.storage import get_storage
from loadbay.worker.sweeper import sweep
from tests.exports.conftest import Exporter, Seeded, log_entry, read_csv

logs = table_of(ExportLog)


def _set(db: Database, log_id: str, **values: Any) -> None:
    with db.write() as session:
        session.execute(logs.update().where(logs.c.id == log_id).values(**values))


def _interrupted(db: Database, exporter: Exporter, attempts: int = 1) -> str:
    """A background export whose worker died mid-file: Processing, its lease run out."""
    log_id: str = exporter.ok("task", download="csv", background=True)["data"]["_id"]
    _set(
        db,
        log_id,
        status="Processing",
        file_key=None,
        completed_at=None,
        total=0,
        lease_owner="dead-host:4242:abc",
        lease_expires=utcnow() - timedelta(seconds=1),
        attempts=attempts,
    )
    return log_id


def test_a_dead_workers_export_is_swept_and_finished(
    seeded: Seeded, exporter: Exporter, db: Database
) -> None:
    log_id = _interrupted(db, exporter)
    assert sweep()["exports"] == 1  # the queue runs inline here: the export runs again
    entry = log_entry(db, log_id)
    assert (entry.status, entry.total, entry.attempts) == ("Done", 4, 2)
    assert entry.lease_owner is None and entry.lease_expires is None
    assert sweep()["exports"] == 0
    link = service.file_link(entry)
    assert link is not None
    assert len(read_csv(exporter.download(link))) == 5


def test_a_held_lease_is_not_swept(seeded: Seeded, exporter: Exporter, db: Database) -> None:
    log_id = _interrupted(db, exporter)
    _set(db, log_id, lease_expires=utcnow() + timedelta(minutes=1))  # its worker is alive
    assert sweep()["exports"] == 0
    assert log_entry(db, log_id).status == "Processing"


def test_the_lease_is_renewed_while_the_file_is_written(
    seeded: Seeded,
    exporter: Exporter,
    db: Database,
    worker_for: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log_id = _interrupted(db, exporter)
    worker_for(lease_seconds=1)
    seen: list[tuple[Any, ...]] = []
    real = writing.write_export

    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(1.6)  # longer than the lease: only renewals keep it
        entry = log_entry(db, log_id)
        seen.append((entry.lease_owner, entry.lease_expires > utcnow(), sweep()["exports"]))
        return real(*args, **kwargs)

    monkeypatch.setattr(writing, "write_export", slow)
    done = service.run_export(log_id)
    assert done is not None and done.status == "Done"
    [(owner, fresh, swept)] = seen
    assert owner is not None and f":{os.getpid()}:" in owner and fresh  # this run holds it
    assert swept == 0


def test_a_run_whose_export_was_taken_over_stops_and_leaves_the_file_alone(
    seeded: Seeded,
    exporter: Exporter,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
    worker_for: Any,
) -> None:
    log_id = _interrupted(db, exporter)
    worker_for(lease_seconds=1)
    entry = log_entry(db, log_id)
    key, _ = service.file_key(entry, ExportPlan.from_json(entry.params["plan"]))
    get_storage().delete(key)  # the first run's file: this run must not write one
    real = writing.write_export

    def taken_over(*args: Any, **kwargs: Any) -> Any:
        _set(db, log_id, lease_owner="newer", lease_expires=utcnow() + timedelta(minutes=1))
        time.sleep(0.6)  # a renewal (every quarter of the lease) finds it gone
        return real(*args, **kwargs)

    monkeypatch.setattr(writing, "write_export", taken_over)
    assert service.run_export(log_id) is None
    entry = log_entry(db, log_id)
    assert (entry.status, entry.lease_owner) == ("Processing", "newer")  # the newer run's
    assert not get_storage().exists(key)  # its file is the newer run's to write


def test_a_transient_failure_gives_the_export_back_for_the_retry(
    seeded: Seeded, exporter: Exporter, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    log_id = _interrupted(db, exporter)
    _set(db, log_id, request_at=utcnow() - timedelta(hours=1))  # old enough to look lost

    def unreachable(*_: Any, **__: Any) -> Any:
        raise ConnectionError("store unreachable")

    monkeypatch.setattr(writing, "write_export", unreachable)
    with pytest.raises(ConnectionError):
        service.run_export(log_id, retry_transient=True)  # the queue retries it later
    entry = log_entry(db, log_id)
    assert entry.status == "Processing" and entry.lease_owner is None
    assert entry.lease_expires is not None and entry.lease_expires > utcnow()
    # the retry waits in the queue's schedule: the sweeper must not count it as lost
    assert count_unclaimed(utcnow()) == 0 and sweep()["exports"] == 0
    monkeypatch.undo()
    assert service.run_export(log_id) is not None  # the retry claims it at once
    assert log_entry(db, log_id).status == "Done"


def test_stale_exports_fail_only_without_a_live_lease(
    seeded: Seeded, exporter: Exporter, db: Database
) -> None:
    log_id = _interrupted(db, exporter)
    now = utcnow()
    _set(db, log_id, request_at=now - timedelta(hours=7), lease_expires=now + timedelta(minutes=1))
    assert fail_stale_exports(now) == 0  # its worker still writes it
    _set(db, log_id, lease_expires=now - timedelta(minutes=1))
    assert fail_stale_exports(now) == 1
    assert log_entry(db, log_id).status == "Failed"
    hung = _interrupted(db, exporter)  # renewed for a day: the work never finishes
    _set(db, hung, request_at=now - timedelta(hours=25), lease_expires=now + timedelta(minutes=1))
    assert fail_stale_exports(now) == 1 and log_entry(db, hung).status == "Failed"


def test_an_export_interrupted_too_often_fails(
    seeded: Seeded, exporter: Exporter, db: Database
) -> None:
    log_id = _interrupted(db, exporter, attempts=get_settings().max_attempts)
    sweep()
    entry = log_entry(db, log_id)
    assert entry.status == "Failed"
    assert (
        entry.error
        == f"The export was started {get_settings().max_attempts} times without finishing; "
        "try a smaller export"
    )


def test_a_done_export_whose_record_failed_to_commit_is_retried_at_once(
    seeded: Seeded, exporter: Exporter, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    log_id = _interrupted(db, exporter)
    real = export_state.finish

    def blip(*args: Any, **values: Any) -> Any:
        if values.get("status") == "Done":
            raise ConnectionError("database unreachable for a moment")
        return real(*args, **values)

    monkeypatch.setattr(export_state, "finish", blip)
    with pytest.raises(ConnectionError):
        service.run_export(log_id, retry_transient=True)
    assert log_entry(db, log_id).lease_owner is None  # given back for the queue's retry
    monkeypatch.undo()
    done = service.run_export(log_id)
    assert done is not None and done.status == "Done"
