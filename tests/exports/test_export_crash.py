"""A worker killed in the middle of a background export: another worker writes the file."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from loadbay.catalog.fields import parse_fields
from loadbay.catalog.models import DataType, Record
from loadbay.db import Database, table_of
from loadbay.exports import service
from loadbay.ids import new_id, utcnow
from tests.conftest import start_worker
from tests.exports.conftest import log_entry, org_of, read_xlsx

pytestmark = pytest.mark.slow
ROWS = 60_000


def _seed(db: Database, org: str) -> str:
    fields = [
        {"id": "dataId", "title": "Code", "type": "string", "primaryKey": True},
        {"id": "name", "title": "Name", "type": "string"},
        {"id": "visits", "title": "Visits", "type": "integer"},
    ]
    with db.write() as session:
        kind = DataType(
            organization_id=org,
            name="Outlet",
            common_data=True,
            fields=[s.as_dict() for s in parse_fields(fields)],
        )
        session.add(kind)
        session.flush()
        now = utcnow()
        rows = [
            {
                "id": new_id(), "organization_id": org, "data_type_id": kind.id, "hub_id": None,
                "scope": "", "data_id": f"{i:06d}", "created_time": now, "updated_time": now,
                "data": {"dataId": f"{i:06d}", "name": f"Outlet {i}", "visits": i},
            }
            for i in range(ROWS)
        ]  # fmt: skip
        session.execute(sa.insert(table_of(Record)), rows)
        return str(kind.id)


def _wait(what: Callable[[], bool], seconds: float, why: Callable[[], str]) -> None:
    deadline = time.monotonic() + seconds
    while not what():
        assert time.monotonic() < deadline, why()
        time.sleep(0.005)


def test_a_background_export_whose_worker_dies_is_written_by_the_next(
    real_queue: dict[str, str],
    db: Database,
    app_client: TestClient,
    auth: dict[str, str],
    tmp_path: Path,
) -> None:
    kind = _seed(db, org_of(auth))
    answer = app_client.post(
        "/api/v3/data/export",
        params={"download": "xlsx", "dataTypeId": kind, "background": "true"},
        headers=auth,
    )
    assert answer.status_code == 200, answer.text
    log_id = answer.json()["data"]["_id"]
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"

    first = start_worker(real_queue, first_log)
    try:
        _wait(lambda: log_entry(db, log_id).lease_owner is not None, 60, first_log.read_text)
        first.send_signal(signal.SIGSTOP)  # frozen mid-file, then killed: a crash
        assert log_entry(db, log_id).status == "Processing", "the export ended before the kill"
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()

    expires = log_entry(db, log_id).lease_expires
    assert expires is not None
    time.sleep(max((expires - utcnow()).total_seconds(), 0) + 0.2)  # the dead worker's lease
    second = start_worker(real_queue, second_log)
    try:
        last: dict[str, Any] = {}

        def done() -> bool:
            entry = log_entry(db, log_id)
            last.update(status=entry.status, attempts=entry.attempts, error=entry.error)
            return entry.status != "Processing"

        _wait(done, 60, lambda: f"{last} {second_log.read_text()[-3000:]}")
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    entry = log_entry(db, log_id)
    assert (entry.status, entry.total, entry.attempts) == ("Done", ROWS, 2), entry.error
    link = service.file_link(entry)
    assert link is not None
    download = app_client.get(link)
    assert download.status_code == 200
    rows = read_xlsx(download.content)
    assert len(rows) == ROWS + 1
    visits = rows[0].index("Visits")
    assert sorted(int(r[visits]) for r in rows[1:]) == list(range(ROWS))
