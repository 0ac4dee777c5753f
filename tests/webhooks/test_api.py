"""The webhook endpoints' API: CRUD, validation, the secret shown once, organisation
isolation, the admin permission, and a test-send to a real receiver."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from loadbay.ids import utcnow
from loadbay.webhooks.tasks import purge_deliveries
from tests.webhooks.conftest import API, Receiver, verify


def test_crud_and_the_secret_shown_once(
    app_client: TestClient, admin: dict[str, str], register: Callable[..., dict[str, Any]]
) -> None:
    created = register(
        "https://example.test/hook", ["export.failed", "import.completed"], description="ops"
    )
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 30
    assert created["events"] == ["import.completed", "export.failed"]  # the list's order
    hook = f"{API}/webhooks/{created['_id']}"
    shown = app_client.get(hook, headers=admin).json()["data"]
    assert "secret" not in shown and shown["url"] == "https://example.test/hook"
    listed = app_client.get(f"{API}/webhooks", headers=admin).json()["data"]
    assert listed["total"] == 1 and "secret" not in listed["data"][0]
    changed = app_client.put(hook, headers=admin, json={"events": ["import.failed"]})
    assert changed.status_code == 200, changed.text
    assert changed.json()["data"]["events"] == ["import.failed"]
    assert changed.json()["data"]["description"] == "ops" and "secret" not in changed.json()["data"]
    assert app_client.delete(hook, headers=admin).status_code == 200
    gone = app_client.get(hook, headers=admin)
    assert gone.status_code == 404 and gone.json()["failedCode"] == "webhook-033"


def test_bad_input_gets_a_clear_code(app_client: TestClient, admin: dict[str, str]) -> None:
    def post(body: Any) -> tuple[int, str, str]:
        answer = app_client.post(f"{API}/webhooks", headers=admin, json=body)
        return answer.status_code, answer.json()["failedCode"], answer.json()["message"]

    assert post({"url": "ftp://x.test/a", "events": ["import.failed"]})[:2] == (400, "webhook-003")
    assert "http:// or https://" in post({"url": "file:///etc/passwd", "events": ["x"]})[2]
    assert post({"url": "https://", "events": ["import.failed"]})[:2] == (400, "webhook-003")
    assert post({"events": ["import.failed"]})[:2] == (400, "webhook-001")
    code = post({"url": "https://a.test", "events": ["import.done"]})
    assert code[:2] == (400, "webhook-017") and "import.done" in code[2]
    assert post({"url": "https://a.test", "events": []})[:2] == (400, "webhook-001")
    assert post({"url": "https://a.test", "events": ["import.failed"], "x": 1})[:2] == (
        400,
        "webhook-003",
    )
    assert post([1])[:2] == (400, "webhook-003")


def test_other_organisations_and_non_admins_cannot_see_or_touch(
    app_client: TestClient,
    register: Callable[..., dict[str, Any]],
    token_for: Callable[..., str],
    auth: dict[str, str],
) -> None:
    created = register("https://example.test/hook", ["import.failed"])
    other = {"Authorization": f"Bearer {token_for(org='globex', perms='admin')}"}
    hook = f"{API}/webhooks/{created['_id']}"
    for method, path in [
        ("GET", hook),
        ("PUT", hook),
        ("DELETE", hook),
        ("POST", f"{hook}/test"),
        ("GET", f"{hook}/deliveries"),
    ]:
        answer = app_client.request(method, path, headers=other, json={"description": "x"})
        assert answer.status_code == 404, (method, path, answer.text)
        assert answer.json()["failedCode"] == "webhook-033"
    assert app_client.get(f"{API}/webhooks", headers=other).json()["data"]["total"] == 0
    # `auth` holds import and export of the same organisation, not admin
    refused = app_client.get(f"{API}/webhooks", headers=auth)
    assert refused.status_code == 403 and refused.json()["failedCode"] == "auth-003"


def test_test_send_is_signed_logged_and_not_retried(
    app_client: TestClient,
    admin: dict[str, str],
    register: Callable[..., dict[str, Any]],
    receiver: Receiver,
    deliveries: Callable[[str], list[Any]],
) -> None:
    created = register(receiver.url, ["import.completed"])
    answer = app_client.post(f"{API}/webhooks/{created['_id']}/test", headers=admin)
    assert answer.status_code == 200, answer.text
    sent = answer.json()["data"]
    assert sent["status"] == "delivered" and sent["attemptLog"][0]["statusCode"] == 200
    (got,) = receiver.requests
    assert verify(created["secret"], got.headers, got.body)
    assert got.headers["Loadbay-Event"] == "webhook.test" == got.json["type"]
    assert got.headers["Loadbay-Delivery"] == got.json["id"] == sent["_id"]

    receiver.stop()
    down = app_client.post(f"{API}/webhooks/{created['_id']}/test", headers=admin).json()["data"]
    assert down["status"] == "failed" and down["attempts"] == 1
    assert down["attemptLog"][0]["statusCode"] is None
    assert down["attemptLog"][0]["error"].startswith("Could not connect")
    assert [d["status"] for d in deliveries(created["_id"])] == ["failed", "delivered"]
    assert purge_deliveries() == 0  # kept for the retention period
    assert purge_deliveries(utcnow() + timedelta(days=31)) == 2
    assert deliveries(created["_id"]) == []
