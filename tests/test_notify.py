"""E-mail through a real SMTP server (aiosmtpd on loopback), a log line without one."""

from __future__ import annotations

import email
import logging
import socket
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from loadbay.notify import send_mail
from loadbay.settings import Settings

LINK = "http://files.test/api/v3/files/acme/exports/e1/out.xlsx?exp=1&sig=ab&name=out.xlsx"


class Inbox:
    def __init__(self) -> None:
        self.envelopes: list[Any] = []
        self.logins: list[tuple[str, str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 OK"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        login = (auth_data.login.decode(), auth_data.password.decode())
        self.logins.append(login)
        # handled=False: aiosmtpd then answers 535 itself (its default leaves the client waiting).
        return AuthResult(success=login == ("ops", "s3cret"), handled=False)

    def message(self, index: int = -1) -> Message:
        return email.message_from_bytes(self.envelopes[index].content)


def _free_port() -> int:
    # aiosmtpd's controller connects to its own port once started, so it cannot take 0.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = _free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=inbox.authenticate,
        # Plain-text AUTH is fine on loopback; production sets smtp_starttls.
        auth_require_tls=False,
    )
    controller.start()
    yield inbox, port
    controller.stop()


def _settings(tmp_path: Path, **smtp: Any) -> Settings:
    return Settings(data_dir=tmp_path, smtp_from="loadbay@ops.test", **smtp)


def test_sends_through_smtp(smtp_server: tuple[Inbox, int], tmp_path: Path) -> None:
    inbox, port = smtp_server
    body = f"Your export is ready:\n{LINK}\n\nIt stays available for 7 days — naïve ünïcode."
    sent = send_mail(
        "ops@acme.test",
        "Export ready: outlets",
        body,
        _settings(tmp_path, smtp_host="127.0.0.1", smtp_port=port),
    )
    assert sent is True
    assert len(inbox.envelopes) == 1
    envelope = inbox.envelopes[0]
    assert envelope.mail_from == "loadbay@ops.test"
    assert envelope.rcpt_tos == ["ops@acme.test"]
    message = inbox.message()
    assert message["To"] == "ops@acme.test"
    assert message["From"] == "loadbay@ops.test"
    assert message["Subject"] == "Export ready: outlets"
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    text = payload.decode(message.get_content_charset() or "utf-8")
    assert LINK in text
    assert "naïve ünïcode" in text
    assert inbox.logins == []


def test_logs_in_when_a_user_is_set(smtp_server: tuple[Inbox, int], tmp_path: Path) -> None:
    inbox, port = smtp_server
    settings = _settings(
        tmp_path, smtp_host="127.0.0.1", smtp_port=port, smtp_user="ops", smtp_password="s3cret"
    )
    assert send_mail("ops@acme.test", "Import done", "done", settings) is True
    assert inbox.logins == [("ops", "s3cret")]
    assert inbox.message()["Subject"] == "Import done"


def test_refused_login_returns_false(
    smtp_server: tuple[Inbox, int], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    inbox, port = smtp_server
    settings = _settings(
        tmp_path, smtp_host="127.0.0.1", smtp_port=port, smtp_user="ops", smtp_password="wrong"
    )
    with caplog.at_level(logging.WARNING, logger="loadbay.notify"):
        assert send_mail("ops@acme.test", "Import done", "done", settings) is False
    assert inbox.envelopes == []
    assert "wrong" not in caplog.text
    assert "not sent" in caplog.text


def test_without_smtp_the_mail_is_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = _settings(tmp_path, smtp_host=None)
    with caplog.at_level(logging.INFO, logger="loadbay.notify"):
        sent = send_mail("ops@acme.test", "Export ready", f"Download:\n{LINK}\nBye", settings)
    assert sent is True
    [record] = [r for r in caplog.records if r.name == "loadbay.notify"]
    assert record.levelno == logging.INFO
    line = record.getMessage()
    assert "\n" not in line
    assert "ops@acme.test" in line
    assert "Export ready" in line
    assert LINK in line


def test_unreachable_server_returns_false_without_raising(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(tmp_path, smtp_host="127.0.0.1", smtp_port=_free_port())
    with caplog.at_level(logging.WARNING, logger="loadbay.notify"):
        assert send_mail("ops@acme.test", "Export ready", "body", settings) is False
    [record] = [r for r in caplog.records if r.name == "loadbay.notify"]
    assert record.levelno == logging.WARNING
    assert "ops@acme.test" in record.getMessage()


def test_header_injection_is_a_failed_delivery(
    smtp_server: tuple[Inbox, int], tmp_path: Path
) -> None:
    inbox, port = smtp_server
    settings = _settings(tmp_path, smtp_host="127.0.0.1", smtp_port=port)
    assert send_mail("ops@acme.test\nBcc: all@x.test", "Hi", "body", settings) is False
    assert inbox.envelopes == []
