"""The one error envelope: unknown routes, malformed bodies and unexpected failures."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from loadbay.api import create_app
from loadbay.db import Database
from loadbay.pagination import page_window

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


def test_malformed_json_is_400_with_a_failed_code(
    app_client: TestClient, auth: dict[str, str]
) -> None:
    headers = {**auth, "Content-Type": "application/json"}
    for path, code in (
        ("/data-type", "datatype-003"),
        ("/data", "data-003"),
        ("/task", "task-003"),
    ):
        r = app_client.post(f"{API}{path}", content=b"{not json", headers=headers)
        assert r.status_code == 400, path  # the vendor's status for invalid parameters
        body = r.json()
        assert body["status"] is False
        assert body["failedCode"] == code
        assert isinstance(body["message"], str) and body["message"]


def test_well_formed_body_with_bad_values_is_400_naming_the_field(
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


@pytest.mark.parametrize(
    ("page", "last", "expected"),
    [
        (1, 1, [1]),
        (5, 13, list(range(1, 14))),  # fewer than 14 pages: every one
        (1, 14, [*range(1, 11), None, 13, 14]),
        (7, 60, [*range(1, 11), None, 59, 60]),
        (8, 60, [1, 2, None, 5, 6, 7, 8, 9, 10, 11, None, 59, 60]),
        (55, 60, [1, 2, None, *range(51, 61)]),
        (60, 60, [1, 2, None, *range(51, 61)]),
    ],
)
def test_page_links_follow_laravels_window(
    page: int, last: int, expected: list[int | None]
) -> None:
    assert page_window(page, last) == expected


def test_bad_json_is_named_in_our_words_not_the_parsers(
    app_client: TestClient, auth: dict[str, str]
) -> None:
    headers = {**auth, "Content-Type": "application/json"}
    for path, code in (("/export-config", "export-003"), ("/data-type", "datatype-003")):
        r = app_client.post(f"{API}{path}", content=b'{"name": x}', headers=headers)
        assert r.status_code == 400, path
        assert r.json() == {
            "status": False,
            "message": "Malformed body: the body is not valid JSON (near character 10)",
            "failedCode": code,
        }


NUL_PATHS = [
    ("GET", "/hub/a%00b", "hub"),
    ("GET", "/data-type/a%00b", "datatype"),
    ("DELETE", "/data-type/a%00b", "datatype"),
    ("GET", "/import-jobs/a%00b", "import"),
    ("PUT", "/import-jobs/a%00b", "import"),
    ("GET", "/import-monitoring/a%00b", "import"),
    ("GET", "/import-config/a%00b", "import"),
    ("GET", "/export-config/a%00b", "export"),
    ("GET", "/webhooks/a%00b/deliveries", "webhook"),
    ("GET", "/data?dataTypeId=a%00b", "data"),
    ("GET", "/tasks?assignee=a%00b", "task"),
    ("GET", "/import-monitoring?dataTypeId=a%00b", "import"),
    ("GET", "/import-template?flowId=a%00b", "import"),
]


@pytest.mark.parametrize(("method", "path", "module"), NUL_PATHS)
def test_a_nul_character_in_the_path_or_the_query_is_a_400_on_every_engine(
    app_client: TestClient, token_for: Callable[..., str], method: str, path: str, module: str
) -> None:
    """PostgreSQL refuses to compare text with a NUL character: every one of these was a
    500 there. Nothing can be named with one, so the request is refused before routing."""
    admin = {"Authorization": f"Bearer {token_for(perms='import,export,admin')}"}
    r = app_client.request(method, f"{API}{path}", headers=admin, json={})
    assert r.status_code == 400, r.text
    assert r.json() == {
        "status": False,
        "message": "The path and the query must not contain NUL characters",
        "failedCode": f"{module}-003",
    }


def test_text_postgresql_cannot_take_is_never_a_500(
    app_client: TestClient, auth: dict[str, str], db: Database
) -> None:
    """A NUL character in a form field reaches the database as a lookup: PostgreSQL's
    refusal is a 400 naming it (it was a 500); SQLite stores it, so finds nothing."""
    for form in ({"dataTypeId": "a\x00b"}, {"flowId": "a\x00b"}):
        r = app_client.post(
            f"{API}/import-jobs",
            headers=auth,
            data=form,
            files={"file": ("a.csv", b"A,B\r\n1,2\r\n")},
        )
        assert r.json()["failedCode"].startswith("import-"), r.text
        if db.url.startswith("postgresql"):
            assert r.status_code == 400, r.text
            assert r.json()["message"] == "Text must not contain NUL characters"
        else:  # the vendor's answer for an unknown data type or flow
            assert r.json()["failedCode"] == "import-033", r.text
