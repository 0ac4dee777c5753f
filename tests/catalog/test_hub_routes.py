"""Hubs: create, list (paginated, searchable), read one."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

TokenFactory = Callable[..., str]

API = "/api/v3"


@pytest.mark.parametrize("slash", ["", "/"])
def test_create_hub_answers_201_with_the_hub(
    app_client: TestClient, auth: dict[str, str], slash: str
) -> None:
    r = app_client.post(
        f"{API}/hub{slash}", json={"name": " Jakarta ", "code": "JKT"}, headers=auth
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] is True and body["message"] == "Success"
    hub = body["data"]
    assert hub["name"] == "Jakarta"
    assert hub["code"] == "JKT"
    assert len(hub["_id"]) == 24
    assert set(hub) >= {"organizationId", "createdTime", "updatedTime"}
    assert len(hub["createdTime"]) == 19  # Y-m-d H:i:s


def test_hub_body_cannot_set_system_keys(app_client: TestClient, auth: dict[str, str]) -> None:
    r = app_client.post(
        f"{API}/hub", json={"name": "A", "_id": "x" * 24, "organizationId": "other"}, headers=auth
    )
    assert r.status_code == 201
    hub = r.json()["data"]
    assert hub["_id"] != "x" * 24
    assert hub["organizationId"] != "other"


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        ({}, "hub-001", "name is required"),
        ({"name": ""}, "hub-003", "name"),
        ({"name": 12}, "hub-003", "name"),
        ({"name": "x" * 201}, "hub-003", "name"),
        ([{"name": "A"}], "hub-003", "JSON object"),
        ({"name": "a\u0000b"}, "hub-003", "NUL"),
    ],
)
def test_create_hub_rejects_bad_bodies_with_400(
    app_client: TestClient, auth: dict[str, str], body: object, code: str, words: str
) -> None:
    r = app_client.post(f"{API}/hub", json=body, headers=auth)
    assert r.status_code == 400
    assert r.json()["status"] is False
    assert r.json()["failedCode"] == code
    assert words in r.json()["message"]


def test_duplicate_hub_name_is_409(app_client: TestClient, auth: dict[str, str]) -> None:
    assert app_client.post(f"{API}/hub", json={"name": "Bandung"}, headers=auth).status_code == 201
    r = app_client.post(f"{API}/hub", json={"name": "Bandung"}, headers=auth)
    assert r.status_code == 409
    assert r.json()["failedCode"] == "hub-031"


def test_malformed_json_is_400(app_client: TestClient, auth: dict[str, str]) -> None:
    headers = {**auth, "Content-Type": "application/json"}
    r = app_client.post(f"{API}/hub", content=b'{"name": ', headers=headers)
    assert r.status_code == 400
    assert r.json()["status"] is False
    assert r.json()["failedCode"] == "hub-003"


@pytest.mark.parametrize("slash", ["", "/"])
def test_list_hubs_paginates_and_searches(
    app_client: TestClient, auth: dict[str, str], slash: str
) -> None:
    for name in ("Jakarta Pusat", "Jakarta Barat", "Surabaya"):
        app_client.post(f"{API}/hub", json={"name": name}, headers=auth)
    r = app_client.get(f"{API}/hubs{slash}", params={"limit": 2}, headers=auth)
    assert r.status_code == 200
    page = r.json()["data"]
    assert page["total"] == 3 and page["per_page"] == 2 and page["last_page"] == 2
    assert len(page["data"]) == 2
    assert page["next_page_url"] is not None
    r = app_client.get(f"{API}/hubs", params={"limit": 2, "page": 2}, headers=auth)
    assert [h["name"] for h in r.json()["data"]["data"]] == ["Surabaya"]
    r = app_client.get(f"{API}/hubs", params={"search": "jakarta"}, headers=auth)
    assert sorted(h["name"] for h in r.json()["data"]["data"]) == ["Jakarta Barat", "Jakarta Pusat"]
    r = app_client.get(f"{API}/hubs", params={"search": "%"}, headers=auth)
    assert r.json()["data"]["total"] == 0  # LIKE wildcards are taken literally


@pytest.mark.parametrize("params", [{"page": "x"}, {"page": "0"}, {"limit": "1000"}])
def test_list_hubs_rejects_bad_paging(
    app_client: TestClient, auth: dict[str, str], params: dict[str, str]
) -> None:
    r = app_client.get(f"{API}/hubs", params=params, headers=auth)
    assert r.status_code == 400
    assert r.json()["failedCode"] == "hub-003"


@pytest.mark.parametrize("slash", ["", "/"])
def test_get_hub(app_client: TestClient, auth: dict[str, str], slash: str) -> None:
    hub = app_client.post(f"{API}/hub", json={"name": "Medan"}, headers=auth).json()["data"]
    r = app_client.get(f"{API}/hub/{hub['_id']}{slash}", headers=auth)
    assert r.status_code == 200
    assert r.json()["data"] == hub


def test_unknown_hub_is_404(app_client: TestClient, auth: dict[str, str]) -> None:
    r = app_client.get(f"{API}/hub/{'0' * 24}", headers=auth)
    assert r.status_code == 404
    assert r.json() == {"status": False, "message": "Hub not found", "failedCode": "hub-033"}


def test_hub_writes_need_import_or_admin(app_client: TestClient, token_for: TokenFactory) -> None:
    reader = {"Authorization": f"Bearer {token_for(perms='export')}"}
    r = app_client.post(f"{API}/hub", json={"name": "X"}, headers=reader)
    assert r.status_code == 403
    assert r.json()["failedCode"] == "auth-003"
    assert app_client.get(f"{API}/hubs", headers=reader).status_code == 200
    admin = {"Authorization": f"Bearer {token_for(perms='admin')}"}
    assert app_client.post(f"{API}/hub", json={"name": "X"}, headers=admin).status_code == 201


def test_hubs_need_a_token(app_client: TestClient) -> None:
    assert app_client.get(f"{API}/hubs").status_code == 401
    assert app_client.post(f"{API}/hub", json={"name": "X"}).status_code == 401
