"""`Idempotency-Key` on the export POSTs (issue 13 item 4)."""

from __future__ import annotations

import sqlalchemy as sa

from loadbay.db import Database
from loadbay.exports.models import ExportLog
from tests.exports.conftest import Exporter, Seeded


def _logs(db: Database) -> int:
    with db.read() as session:
        return int(session.scalar(sa.select(sa.func.count()).select_from(ExportLog)) or 0)


def test_a_retried_export_answers_the_first_result(
    seeded: Seeded, exporter: Exporter, db: Database
) -> None:
    keyed = {**exporter.auth, "Idempotency-Key": "exp-1"}
    first = exporter.tasks(headers=keyed, background=True, download="xlsx")
    assert first.status_code == 200, first.text
    again = exporter.tasks(headers=keyed, background=True, download="xlsx")
    assert again.status_code == 200 and again.json() == first.json()
    assert _logs(db) == 1
    other = exporter.tasks(headers=keyed, background=True, download="csv")
    assert other.status_code == 409 and other.json()["failedCode"] == "request-031"
    assert _logs(db) == 1

    direct = {**exporter.auth, "Idempotency-Key": "exp-2"}
    first_direct = exporter.data(headers=direct, dataTypeId=seeded.outlet, download="csv")
    assert first_direct.status_code == 200, first_direct.text
    again_direct = exporter.data(headers=direct, dataTypeId=seeded.outlet, download="csv")
    assert again_direct.json() == first_direct.json()  # the same file link, not a new export
    assert _logs(db) == 2
    moved = exporter.data(headers=direct, dataTypeId=seeded.outlet, download="xlsx")
    assert moved.status_code == 409 and moved.json()["failedCode"] == "request-031"
