"""A real HTTP receiver on 127.0.0.1 (http.server in a thread) that records every request
and answers as the test says: a status, after a delay."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from tests.imports.conftest import catalog, csv_bytes, monitoring, org_id, upload  # noqa: F401

API = "/api/v3"


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    seen: dict[str, Any] = field(default_factory=dict)  # what `on_request` looked up

    @property
    def json(self) -> dict[str, Any]:
        parsed: dict[str, Any] = orjson.loads(self.body)
        return parsed


class Receiver:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.status = 200
        self.delay = 0.0
        self.on_request: Callable[[Received], None] | None = None
        self.server: ThreadingHTTPServer | None = None
        self.port = 0
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/loadbay"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                got = Received(dict(self.headers.items()), self.rfile.read(length))
                if receiver.on_request is not None:
                    receiver.on_request(got)
                receiver.requests.append(got)
                time.sleep(receiver.delay)
                self.send_response(receiver.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Down: the port refuses connections until `start` binds it again."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.delay = 0
    r.stop()


def verify(secret: str, headers: dict[str, str], body: bytes, tolerance: int = 300) -> bool:
    """Exactly the receiver of the README's "Webhooks" section."""
    fields = dict(part.split("=", 1) for part in headers["Loadbay-Signature"].split(","))
    signed = fields["t"].encode() + b"." + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    fresh = abs(time.time() - int(fields["t"])) <= tolerance
    return fresh and hmac.compare_digest(expected, fields["v1"])


@pytest.fixture
def admin(token_for: Callable[..., str]) -> dict[str, str]:
    """An admin of the same organisation as `auth` (acme)."""
    return {"Authorization": f"Bearer {token_for(email='admin@acme.test', perms='admin')}"}


@pytest.fixture
def register(app_client: TestClient, admin: dict[str, str]) -> Callable[..., dict[str, Any]]:
    def _register(url: str, events: list[str], **extra: Any) -> dict[str, Any]:
        answer = app_client.post(
            f"{API}/webhooks", headers=admin, json={"url": url, "events": events, **extra}
        )
        assert answer.status_code == 201, answer.text
        body: dict[str, Any] = answer.json()["data"]
        return body

    return _register


@pytest.fixture
def deliveries(app_client: TestClient, admin: dict[str, str]) -> Callable[[str], list[Any]]:
    def _list(endpoint_id: str) -> list[Any]:
        answer = app_client.get(f"{API}/webhooks/{endpoint_id}/deliveries", headers=admin)
        assert answer.status_code == 200, answer.text
        items: list[Any] = answer.json()["data"]["data"]
        return items

    return _list


def unsigned(record: dict[str, Any]) -> dict[str, Any]:
    """A record with its links' signatures cut off: a link is signed with an expiry counted
    from when it is rendered, so two renders a second apart differ only there."""
    return {
        k: v.split("?", 1)[0] if isinstance(v, str) and v.startswith("http") else v
        for k, v in record.items()
    }
