"""`GET /tasks/export-log` and the entry's lifecycle: Processing → Done or Failed, e-mail."""

from __future__ import annotations

import email
import re
import socket
from collections.abc import Iterator
from datetime import timedelta
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from loadbay.db import Database
from loadbay.exports import writing
from loadbay.exports.models import ExportLog
from loadbay.ids import utcnow
from loadbay.worker import tasks as worker_tasks
from tests.conftest import AppFactory
from tests.exports.conftest import Exporter, Seeded, read_xlsx

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def _log(exporter: Exporter, **params: Any) -> Any:
    return exporter.client.get("/api/v3/tasks/export-log", params=params, headers=exporter.auth)


def _entries(exporter: Exporter, **params: Any) -> list[dict[str, Any]]:
    answer = _log(exporter, **params)
    assert answer.status_code == 200, answer.text
    data: list[dict[str, Any]] = answer.json()["data"]
    return data


def test_background_export_is_logged_done(seeded: Seeded, exporter: Exporter) -> None:
    body = exporter.ok("task", download="xlsx", background=True)
    answer = _log(exporter)
    assert answer.status_code == 200
    log = answer.json()
    assert list(log) == ["status", "message", "total", "data", "params"]
    assert log["status"] is True and log["message"] == "Success" and log["total"] == 1
    entry = log["data"][0]
    assert entry["_index"] == "export" and entry["_type"] == "_doc" and entry["_score"] == 1
    assert entry["_id"] == body["data"]["_id"]
    source = entry["_source"]
    assert list(source) == [
        "organizationId", "dataType", "dataName", "status", "requestAt", "completedAt",
        "email", "fileUrl", "fileType", "totalRecords",
    ]  # fmt: skip
    assert source["organizationId"] == seeded.org
    assert source["dataType"] == "task" and source["dataName"] == "Delivery, Pickup"
    assert source["status"] == "Done" and source["fileType"] == "xlsx"
    assert source["totalRecords"] == 4 and source["email"] == "ops@acme.test"
    assert ISO_Z.match(source["requestAt"]) and ISO_Z.match(source["completedAt"])
    rows = read_xlsx(exporter.download(source["fileUrl"]))
    assert len(rows) == 5
    assert log["params"]["from"] == 0 and log["params"]["size"] == 10
    assert log["params"]["sort"] == [{"requestAt": {"order": "desc"}}]
    must = log["params"]["query"]["bool"]["must"]
    assert {"term": {"organizationId.keyword": seeded.org}} in must
    assert {"term": {"email.keyword": "ops@acme.test"}} in must


def test_links_are_signed_when_read(seeded: Seeded, exporter: Exporter, db: Database) -> None:
    exporter.ok("data", download="csv")
    with db.read() as session:
        entry = session.query(ExportLog).one()
    assert entry.file_key is not None and "sig=" not in entry.file_key
    assert entry.file_key.startswith(f"{seeded.org}/exports/{entry.id}/")
    url = _entries(exporter)[0]["_source"]["fileUrl"]
    assert "sig=" in url and exporter.download(url).startswith(b"\xef\xbb\xbf")


def test_direct_exports_are_logged(seeded: Seeded, exporter: Exporter) -> None:
    exporter.ok("data", download="json", dataTypeId=seeded.outlet)
    exporter.ok("data", download="csv", dataTypeId=seeded.outlet, limit=2)
    entries = _entries(exporter)
    assert [e["_source"]["fileType"] for e in entries] == ["csv", "zip"]  # newest first
    assert [e["_source"]["totalRecords"] for e in entries] == [2, 5]
    assert entries[0]["_source"]["dataName"] == "Outlet"
    assert entries[0]["_source"]["dataType"] == "data"


def test_failed_background_export(
    seeded: Seeded, exporter: Exporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("/secret/path.py line 12")

    monkeypatch.setattr(writing, "write_export", broken)
    body = exporter.ok("data", download="xlsx", background=True)
    assert body["data"]["status"] == "Processing"
    entry = _entries(exporter)[0]
    source = entry["_source"]
    assert source["status"] == "Failed" and "fileUrl" not in source
    assert source["errorMessage"] == "Internal error while writing the export (RuntimeError)"
    assert "secret" not in str(entry) and ISO_Z.match(source["completedAt"])


def test_failed_direct_export(
    seeded: Seeded, auth: dict[str, str], app_for: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The broken writer is this process's.
    exporter = Exporter(app_for(direct_export_in_worker_process=False), auth)

    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise ValueError("row 3, column B: text is longer than a cell holds")

    monkeypatch.setattr(writing, "write_export", broken)
    answer = exporter.data(download="xlsx")
    assert answer.status_code == 500
    assert answer.json() == {
        "status": False,
        "message": "Internal server error",  # the vendor's 500, its reason in error.message
        "error": {"message": "row 3, column B: text is longer than a cell holds"},
        "failedCode": "export-045",
    }
    assert _entries(exporter, status="Failed")[0]["_source"]["errorMessage"].startswith("row 3")


def test_processing_entry_has_no_completion(
    seeded: Seeded, exporter: Exporter, db: Database
) -> None:
    _add(db, seeded.org, status="Processing")
    source = _entries(exporter)[0]["_source"]
    assert source["status"] == "Processing"
    assert "completedAt" not in source and "fileUrl" not in source and "errorMessage" not in source


def test_transient_failure_is_retried_then_failed(
    seeded: Seeded, exporter: Exporter, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []

    def unreachable(*_args: Any, **_kwargs: Any) -> None:
        calls.append(1)
        raise ConnectionError("store down")

    monkeypatch.setattr(writing, "write_export", unreachable)
    entry = _add(db, seeded.org, status="Processing")

    class Attempt:
        retries = 2

    with pytest.raises(ConnectionError):  # the queue retries it
        worker_tasks.export_task.call_local(entry, task=Attempt())
    assert _entries(exporter)[0]["_source"]["status"] == "Processing"
    Attempt.retries = 0
    worker_tasks.export_task.call_local(
        entry, task=Attempt()
    )  # the last attempt records the failure
    source = _entries(exporter)[0]["_source"]
    assert source["status"] == "Failed"
    assert source["errorMessage"] == "The database or the file store could not be reached"
    assert len(calls) == 2
    worker_tasks.export_task.call_local(entry, task=Attempt())  # a finished entry is left alone
    assert len(calls) == 2


def _add(db: Database, org: str, **values: Any) -> str:
    row = {
        "organization_id": org,
        "report_type": "task",
        "data_name": "Delivery",
        "file_type": "xlsx",
        "status": "Done",
        "params": {},
        "email": "ops@acme.test",
        "request_at": utcnow(),
        **values,
    }
    with db.write() as session:
        entry = ExportLog(**row)
        session.add(entry)
        session.flush()
        if entry.status == "Processing" and not entry.params:
            entry.params = {"plan": _plan(session, org)}
        return entry.id


def _plan(session: Any, org: str) -> dict[str, Any]:
    from loadbay.exports.plan import build_plan
    from loadbay.exports.schemas import parse_request

    return build_plan(session, org, parse_request("task", {"download": "xlsx"})).to_json()


def test_filters_and_paging(seeded: Seeded, exporter: Exporter, db: Database) -> None:
    now = utcnow()
    ids = [
        _add(db, seeded.org, data_name=f"Export {i}", request_at=now - timedelta(minutes=i))
        for i in range(12)
    ]
    _add(db, seeded.org, status="Failed", report_type="data", data_name="Outlet list", error="x")
    _add(db, seeded.org, email="someone@acme.test", data_name="Theirs")
    _add(db, seeded.org, request_at=now - timedelta(days=31))  # past retention
    _add(db, "6650a0a0a0a0a0a0a0a0a0a0", data_name="Other org")
    answer = _log(exporter, limit=5, page=2).json()
    assert answer["total"] == 13
    assert [e["_id"] for e in answer["data"]] == ids[4:9]
    assert answer["params"]["from"] == 5 and answer["params"]["size"] == 5
    assert [e["_source"]["dataName"] for e in _entries(exporter, status="Failed")] == [
        "Outlet list"
    ]
    assert len(_entries(exporter, dataType="data")) == 1
    assert len(_entries(exporter, dataType="task", limit=100)) == 12
    assert [e["_source"]["dataName"] for e in _entries(exporter, dataName="outlet")] == [
        "Outlet list"
    ]
    assert _log(exporter, email="someone@acme.test").status_code == 403  # see below
    oldest_first = _entries(exporter, sortOrder="asc", limit=1)
    assert oldest_first[0]["_id"] == ids[-1]
    by_name = _entries(exporter, sortBy="dataName", sortOrder="asc", limit=2)
    assert [e["_source"]["dataName"] for e in by_name] == ["Export 0", "Export 1"]


@pytest.mark.parametrize(
    ("params", "code", "message"),
    [
        ({"limit": 0}, "export-003", "Invalid limit parameter. Must be between 1 and 100."),
        ({"limit": 101}, "export-003", "Invalid limit parameter. Must be between 1 and 100."),
        ({"limit": "ten"}, "export-003", "Invalid limit parameter. Must be between 1 and 100."),
        ({"page": 0}, "export-003", "Invalid page parameter. Must be between 1 and 1000000."),
        ({"status": "done"}, "export-017", None),
        ({"dataType": "invoice"}, "export-017", None),
        ({"sortBy": "size"}, "export-003", None),
        ({"sortOrder": "up"}, "export-017", None),
    ],
)
def test_bad_log_parameters(
    seeded: Seeded, exporter: Exporter, params: dict[str, Any], code: str, message: str | None
) -> None:
    answer = _log(exporter, **params)
    assert answer.status_code == 400
    body = answer.json()
    assert body["status"] is False and body["failedCode"] == code and body["data"] == []
    if message is not None:
        assert body["message"] == message


def test_log_needs_the_export_permission(
    seeded: Seeded, exporter: Exporter, token_for: Any
) -> None:
    headers = {"Authorization": f"Bearer {token_for(perms='import')}"}
    answer = exporter.client.get("/api/v3/tasks/export-log", headers=headers)
    assert answer.status_code == 403
    assert answer.json()["message"] == "You do not have permission to view export logs"


# ---- e-mail -----------------------------------------------------------------------------------


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.settings: dict[str, Any] = {}

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    box = Inbox()
    box.settings = {"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_from": "loadbay@ops.test"}
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box
    controller.stop()


@pytest.fixture
def mailing(inbox: Inbox, app_for: AppFactory, auth: dict[str, str]) -> Exporter:
    """An app that mails its exports' owners through the inbox's server."""
    return Exporter(app_for(**inbox.settings), auth)


def _text(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode(message.get_content_charset() or "utf-8")


def test_mail_when_a_background_export_is_done(
    seeded: Seeded, mailing: Exporter, inbox: Inbox
) -> None:
    mailing.ok("data", download="csv", dataTypeId=seeded.outlet, background=True)
    assert len(inbox.messages) == 1
    message = inbox.messages[0]
    assert message["To"] == "ops@acme.test" and message["From"] == "loadbay@ops.test"
    assert message["Subject"] == "Your export is ready: Outlet"
    text = _text(message)
    link = re.search(r"https?://\S+", text)
    assert link is not None and "5 records" in text
    assert mailing.download(link.group()).startswith(b"\xef\xbb\xbf")


def test_mail_when_a_background_export_fails(
    seeded: Seeded, mailing: Exporter, inbox: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise ValueError("row 2, column A: cannot write a set")

    monkeypatch.setattr(writing, "write_export", broken)
    mailing.ok("task", download="xlsx", background=True)
    assert [m["Subject"] for m in inbox.messages] == ["Your export failed: Delivery, Pickup"]
    assert "row 2, column A: cannot write a set" in _text(inbox.messages[0])


def test_no_mail_for_direct_exports(seeded: Seeded, mailing: Exporter, inbox: Inbox) -> None:
    mailing.ok("task", download="xlsx")
    assert inbox.messages == []


def test_a_colleagues_exports_are_for_admins_only(
    seeded: Seeded, exporter: Exporter, db: Database, token_for: Any
) -> None:
    _add(db, seeded.org, data_name="Mine")
    _add(db, seeded.org, email="someone@acme.test", data_name="Theirs")
    assert [e["_source"]["dataName"] for e in _entries(exporter)] == ["Mine"]
    assert [e["_source"]["dataName"] for e in _entries(exporter, email="OPS@acme.test")] == ["Mine"]
    refused = _log(exporter, email="someone@acme.test")
    assert refused.status_code == 403
    assert refused.json() == {
        "status": False,
        "message": "You do not have permission to view export logs",
        "failedCode": "auth-003",
        "detail": "only an admin sees the exports of someone@acme.test; leave out email for yours",
    }
    admin = Exporter(exporter.client, {"Authorization": f"Bearer {token_for(perms='admin')}"})
    theirs = _entries(admin, email="someone@acme.test")
    assert [e["_source"]["dataName"] for e in theirs] == ["Theirs"]
    assert [e["_source"]["dataName"] for e in _entries(admin)] == ["Mine"]


@pytest.mark.parametrize("perms", ["", "import"])
def test_the_export_log_needs_export(exporter: Exporter, token_for: Any, perms: str) -> None:
    headers = {"Authorization": f"Bearer {token_for(perms=perms)}"}
    answer = exporter.client.get("/api/v3/tasks/export-log", headers=headers)
    assert answer.status_code == 403
    assert answer.json() == {
        "status": False,
        "message": "You do not have permission to view export logs",
        "failedCode": "auth-003",
    }
