"""Deliveries to a real receiver on 127.0.0.1: signed as the README shows, sent only after
the change commits, retried when the receiver is down or slow, given up after the window,
and never a cause of a job's failure."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from loadbay.db import Database
from loadbay.exports.models import ExportLog
from loadbay.exports.tasks import fail_stale_exports
from loadbay.ids import utcnow
from loadbay.imports.models import ImportJob
from loadbay.webhooks.models import WebhookDelivery
from loadbay.webhooks.service import record_event
from loadbay.webhooks.tasks import enqueue_due
from tests.imports.conftest import csv_bytes
from tests.webhooks.conftest import Received, Receiver, unsigned, verify

HEADER = ["Outlet Code", "Name", "Hub"]


def _import(upload: Callable[..., Any]) -> str:
    answer = upload(csv_bytes([HEADER, ["A-1", "Toko Satu", "Jakarta"], ["A-2", "Dua", ""]]))
    assert answer.status_code == 200, answer.text
    return str(answer.json()["data"]["_id"])


def _settle(endpoint_id: str, deliveries: Callable[[str], list[Any]], pause: float) -> Any:
    """Run the sweeper's due pass until the delivery is no longer pending."""
    for _ in range(40):
        (item,) = deliveries(endpoint_id)
        if item["status"] != "pending":
            return item
        time.sleep(pause)
        enqueue_due()
    raise AssertionError(f"still pending: {item}")


def test_import_completed_is_signed_and_sent_after_commit(
    db: Database,
    upload: Callable[..., Any],
    monitoring: Callable[[str], dict[str, Any]],
    register: Callable[..., dict[str, Any]],
    receiver: Receiver,
    deliveries: Callable[[str], list[Any]],
) -> None:
    created = register(receiver.url, ["import.completed", "import.failed"])

    def look(got: Received) -> None:  # what the database says while the receiver holds it
        with db.read() as session:
            job = session.get(ImportJob, got.json["data"]["_id"])
            got.seen["status"] = job.status if job else None

    receiver.on_request = look
    job_id = _import(upload)
    record = monitoring(job_id)
    assert record["status"] == "success"
    (got,) = receiver.requests
    assert got.seen["status"] == "success"  # the outbox sends only what has committed
    assert verify(created["secret"], got.headers, got.body)
    assert not verify(created["secret"], got.headers, got.body.replace(b'"success"', b'"failed"'))
    assert not verify("whsec_other", got.headers, got.body)
    body = got.json
    assert got.headers["Loadbay-Event"] == "import.completed" == body["type"]
    assert got.headers["Loadbay-Delivery"] == body["id"]
    assert set(body) == {"id", "type", "createdAt", "data"}
    assert unsigned(body["data"]) == unsigned(record)  # exactly GET /import-monitoring/{id}
    (logged,) = deliveries(created["_id"])
    assert logged["_id"] == body["id"] and logged["status"] == "delivered"
    assert logged["payload"] == body and logged["attempts"] == 1
    assert logged["attemptLog"][0]["statusCode"] == 200


def test_nothing_is_sent_for_a_change_that_rolls_back(
    db: Database, register: Callable[..., dict[str, Any]], receiver: Receiver, org_id: str
) -> None:
    register(receiver.url, ["import.failed"])

    def change_that_fails() -> None:
        with db.write() as session:
            assert record_event(session, org_id, "import.failed", {"_id": "x"})
            raise RuntimeError("the status change fails after the event was recorded")

    with pytest.raises(RuntimeError):
        change_that_fails()
    with db.read() as session:
        assert session.query(WebhookDelivery).count() == 0
    with db.write() as session:  # a later commit does not send the forgotten one either
        session.get(ImportJob, "0" * 24)
    assert receiver.requests == []


def test_receiver_down_then_back_gets_the_same_delivery(
    db: Database,
    worker_for: Callable[..., Any],
    upload: Callable[..., Any],
    monitoring: Callable[[str], dict[str, Any]],
    register: Callable[..., dict[str, Any]],
    receiver: Receiver,
    deliveries: Callable[[str], list[Any]],
) -> None:
    worker_for(webhook_backoff_seconds=[0.2, 0.4])
    created = register(receiver.url, ["import.completed"])
    receiver.stop()
    job_id = _import(upload)
    assert monitoring(job_id)["status"] == "success"  # the job does not wait for it
    (first,) = deliveries(created["_id"])
    assert first["status"] == "pending" and first["attempts"] == 1
    assert first["attemptLog"][0]["error"].startswith("Could not connect")
    receiver.start()  # the same port again
    done = _settle(created["_id"], deliveries, 0.25)
    assert done["status"] == "delivered" and done["attempts"] == 2
    assert [a["statusCode"] for a in done["attemptLog"]] == [None, 200]
    (got,) = receiver.requests
    assert got.headers["Loadbay-Delivery"] == first["_id"]
    assert verify(created["secret"], got.headers, got.body)


def test_slow_receiver_times_out_and_is_retried(
    db: Database,
    worker_for: Callable[..., Any],
    upload: Callable[..., Any],
    monitoring: Callable[[str], dict[str, Any]],
    register: Callable[..., dict[str, Any]],
    receiver: Receiver,
    deliveries: Callable[[str], list[Any]],
) -> None:
    worker_for(webhook_timeout_seconds=0.3, webhook_backoff_seconds=[0.2])
    created = register(receiver.url, ["import.completed"])
    receiver.delay = 1.5
    job_id = _import(upload)
    assert monitoring(job_id)["status"] == "success"
    (first,) = deliveries(created["_id"])
    assert first["status"] == "pending"
    (attempt,) = first["attemptLog"]
    assert attempt["error"] == "Timed out after 0.3 s" and attempt["statusCode"] is None
    assert attempt["durationMs"] < 1200  # it waited for the timeout, not for the receiver
    receiver.delay = 0
    done = _settle(created["_id"], deliveries, 0.25)
    assert done["status"] == "delivered" and done["attemptLog"][-1]["statusCode"] == 200


def test_failing_receiver_is_given_up_after_the_window(
    db: Database,
    worker_for: Callable[..., Any],
    upload: Callable[..., Any],
    register: Callable[..., dict[str, Any]],
    receiver: Receiver,
    deliveries: Callable[[str], list[Any]],
) -> None:
    worker_for(webhook_backoff_seconds=[0.1, 0.2], webhook_retry_seconds=0.6)
    created = register(receiver.url, ["import.completed"])
    receiver.status = 500
    _import(upload)
    done = _settle(created["_id"], deliveries, 0.15)
    assert done["status"] == "failed" and done["nextAttemptAt"] is None
    assert 2 <= done["attempts"] == len(done["attemptLog"]) <= 5
    assert all(a["statusCode"] == 500 for a in done["attemptLog"])
    assert done["lastError"].startswith("HTTP 500")
    receiver.status = 200
    enqueue_due()
    assert len(receiver.requests) == done["attempts"]  # given up is final


def test_failed_export_sends_export_failed(
    db: Database,
    register: Callable[..., dict[str, Any]],
    receiver: Receiver,
    org_id: str,
) -> None:
    created = register(receiver.url, ["export.failed"])
    now = utcnow()
    with db.write() as session:
        entry = ExportLog(
            organization_id=org_id,
            report_type="data",
            data_name="Outlet",
            file_type="xlsx",
            status="Processing",
            params={},
            email="ops@acme.test",
            background=True,
            request_at=now - timedelta(days=2),
        )
        session.add(entry)
    assert fail_stale_exports(now) == 1
    (got,) = receiver.requests
    assert verify(created["secret"], got.headers, got.body)
    assert got.headers["Loadbay-Event"] == "export.failed"
    data = got.json["data"]
    assert data["_id"] == entry.id and data["status"] == "Failed"
    assert data["errorMessage"] == "The export did not finish in time"
    assert data["dataName"] == "Outlet" and data["organizationId"] == org_id


def test_background_export_sends_export_completed_with_the_log_entry(
    app_client: Any,
    auth: dict[str, str],
    catalog: dict[str, str],
    upload: Callable[..., Any],
    register: Callable[..., dict[str, Any]],
    receiver: Receiver,
) -> None:
    created = register(receiver.url, ["export.completed", "export.failed"])
    _import(upload)
    params = {"dataTypeId": catalog["outlet"], "download": "csv", "background": "true"}
    answer = app_client.post("/api/v3/data/export", params=params, headers=auth)
    assert answer.status_code == 200, answer.text
    (got,) = receiver.requests
    assert verify(created["secret"], got.headers, got.body)
    assert got.headers["Loadbay-Event"] == "export.completed"
    log = app_client.get("/api/v3/tasks/export-log", headers=auth).json()["data"][0]
    assert unsigned(got.json["data"]) == unsigned({"_id": log["_id"], **log["_source"]})
    assert got.json["data"]["status"] == "Done" and got.json["data"]["totalRecords"] == 2
