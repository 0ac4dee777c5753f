"""`import.cancelled` and `import.failed`: the delivery row is written with the status
change; the queue (here one nobody consumes) holds its task, run here by hand."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from loadbay.db import Database
from loadbay.imports import pipeline
from loadbay.webhooks.models import WebhookDelivery
from loadbay.webhooks.tasks import deliver_task
from tests.imports.conftest import csv_bytes
from tests.webhooks.conftest import Receiver, unsigned, verify

ROWS = [["Outlet Code", "Name", "Hub"], ["C-1", "Satu", "Jakarta"]]


def _send_pending(db: Database) -> None:
    with db.read() as session:
        ids = [d.id for d in session.query(WebhookDelivery).filter_by(status="pending")]
    for delivery_id in ids:
        deliver_task.call_local(delivery_id)


def test_cancelled_and_failed_imports(
    real_queue: dict[str, str],
    db: Database,
    app_client: TestClient,
    auth: dict[str, str],
    upload: Callable[..., Any],
    monitoring: Callable[[str], dict[str, Any]],
    register: Callable[..., dict[str, Any]],
    receiver: Receiver,
) -> None:
    created = register(receiver.url, ["import.cancelled", "import.failed"])
    cancelled = upload(csv_bytes(ROWS)).json()["data"]["_id"]  # queued: no worker runs
    answer = app_client.post(f"/api/v3/import-jobs/{cancelled}/cancel", headers=auth)
    assert answer.status_code == 200, answer.text
    failed = upload(csv_bytes(ROWS)).json()["data"]["_id"]
    pipeline.fail_job(failed, "Import could not be planned: OperationalError")
    assert receiver.requests == []  # the tasks wait in the queue
    _send_pending(db)
    got = {r.json["type"]: r for r in receiver.requests}
    assert set(got) == {"import.cancelled", "import.failed"}
    for event, job_id in [("import.cancelled", cancelled), ("import.failed", failed)]:
        assert verify(created["secret"], got[event].headers, got[event].body)
        assert unsigned(got[event].json["data"]) == unsigned(monitoring(job_id))
    # the monitoring record's vendor status list has no `cancelled` (DECISIONS Precedence 4)
    assert got["import.cancelled"].json["data"]["status"] == "failed"
    assert got["import.cancelled"].json["data"]["errorMessage"].startswith("Cancelled by ")
    assert got["import.failed"].json["data"]["status"] == "failed"
    pipeline.fail_job(failed, "again")  # an ended job changes no more: no second event
    _send_pending(db)
    assert len(receiver.requests) == 2
