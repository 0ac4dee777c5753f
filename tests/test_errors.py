"""The one error envelope: unknown routes, malformed bodies and unexpected failures."""

from __future__ import annotations

from fastapi.testclient import TestClient

from loadbay.api import create_app

API = "/api/v3"


def test_unknown_route_is_404_with_the_envelope(app_client: TestClient) -> None:
    r = app_client.get(f"{API}/no-such-thing")
    assert r.status_code == 404
    assert r.json()["status"] is False and r.json()["message"] == "Not found"
    assert r.json()["failedCode"].endswith("-033")
    r = app_client.get("/nothing/here")
    assert r.status_code == 404 and r.json()["status"] is False


def test_wrong_method_has_the_envelope(app_client: TestClient, auth: dict[str, str]) -> None:
    r = app_client.delete(f"{API}/hubs", headers=auth)
    assert r.status_code == 405
    assert r.json()["status"] is False and r.json()["failedCode"] == "hub-003"


def test_malformed_json_is_422_with_a_failed_code(
    app_client: TestClient, auth: dict[str, str]
) -> None:
    headers = {**auth, "Content-Type": "application/json"}
    for path, code in (
        ("/data-type", "datatype-003"),
        ("/data", "data-003"),
        ("/task", "task-003"),
    ):
        r = app_client.post(f"{API}{path}", content=b"{not json", headers=headers)
        assert r.status_code == 422, path
        body = r.json()
        assert body["status"] is False
        assert body["failedCode"] == code
        assert isinstance(body["message"], str) and body["message"]


def test_well_formed_body_with_bad_values_is_400_not_422(
    app_client: TestClient, auth: dict[str, str]
) -> None:
    r = app_client.post(f"{API}/data-type", json={"name": "T", "fields": [{"id": "x", "type": "?"}]},
                        headers=auth)  # fmt: skip
    assert r.status_code == 400
    assert r.json()["failedCode"] == "datatype-003"


def test_unexpected_exception_is_500_without_a_trace() -> None:
    app = create_app(run_migrations=False)

    @app.get(f"{API}/tasks/explode")
    def explode() -> None:
        raise RuntimeError("secret detail at /srv/app/file.py line 42")

    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.get(f"{API}/tasks/explode")
    assert r.status_code == 500
    assert r.json() == {
        "status": False,
        "message": "Internal server error",
        "failedCode": "task-045",
    }
    assert "Traceback" not in r.text and "secret" not in r.text and ".py" not in r.text
