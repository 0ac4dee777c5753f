"""Flows: create (fields without a primary key), list, read one."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

API = "/api/v3"
FIELDS = [
    {"id": "orderNumber", "title": "Order Number", "type": "string", "required": True},
    {"id": "weight", "title": "Weight", "inputType": "number", "isRequired": False},
    {"id": "size", "title": "Size", "type": "option", "optionData": ["S", "M", "L"]},
]


@pytest.mark.parametrize("slash", ["", "/"])
def test_create_flow(app_client: TestClient, auth: dict[str, str], slash: str) -> None:
    body = {"name": "Delivery", "description": "Drop-offs", "fields": FIELDS}
    r = app_client.post(f"{API}/flow{slash}", json=body, headers=auth)
    assert r.status_code == 201, r.text
    flow = r.json()["data"]
    assert flow["name"] == "Delivery" and flow["description"] == "Drop-offs"
    assert flow["fields"] == [
        {"id": "orderNumber", "title": "Order Number", "type": "string", "required": True,
         "primaryKey": False, "optionData": []},
        {"id": "weight", "title": "Weight", "type": "number", "required": False,
         "primaryKey": False, "optionData": []},
        {"id": "size", "title": "Size", "type": "option", "required": False,
         "primaryKey": False, "optionData": ["S", "M", "L"]},
    ]  # fmt: skip
    assert set(flow) >= {"_id", "organizationId", "createdTime", "updatedTime"}


def test_flow_without_fields_or_description(app_client: TestClient, auth: dict[str, str]) -> None:
    r = app_client.post(f"{API}/flow", json={"name": "Visit"}, headers=auth)
    assert r.status_code == 201
    flow = r.json()["data"]
    assert flow["fields"] == []
    assert "description" not in flow  # absent, never null


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        ({"fields": []}, "flow-001", "name is required"),
        ({"name": "F", "fields": [{"id": "x", "type": "colour"}]}, "flow-003", "unknown type"),
        ({"name": "F", "fields": [{"id": "x", "type": "option"}]}, "flow-003", "optionData"),
        ({"name": "F", "fields": [{"id": "status"}]}, "flow-003", "reserved"),
        ({"name": "F", "fields": [{"id": "a"}, {"id": "a"}]}, "flow-003", "duplicate"),
        ({"name": "F", "fields": "nope"}, "flow-003", "fields"),
    ],
)
def test_create_flow_rejects_bad_bodies(
    app_client: TestClient, auth: dict[str, str], body: object, code: str, words: str
) -> None:
    r = app_client.post(f"{API}/flow", json=body, headers=auth)
    assert r.status_code == 400, r.text
    assert r.json()["failedCode"] == code
    assert words in r.json()["message"]


def test_duplicate_flow_name_is_409(app_client: TestClient, auth: dict[str, str]) -> None:
    app_client.post(f"{API}/flow", json={"name": "Pickup"}, headers=auth)
    r = app_client.post(f"{API}/flow", json={"name": "Pickup"}, headers=auth)
    assert r.status_code == 409
    assert r.json()["failedCode"] == "flow-031"


@pytest.mark.parametrize("slash", ["", "/"])
def test_list_and_get_flows(app_client: TestClient, auth: dict[str, str], slash: str) -> None:
    ids = [
        app_client.post(f"{API}/flow", json={"name": f"F{n}"}, headers=auth).json()["data"]["_id"]
        for n in range(3)
    ]
    r = app_client.get(f"{API}/flows{slash}", headers=auth)
    assert r.status_code == 200
    page = r.json()["data"]
    assert page["total"] == 3
    assert {f["_id"] for f in page["data"]} == set(ids)
    r = app_client.get(f"{API}/flow/{ids[0]}{slash}", headers=auth)
    assert r.status_code == 200 and r.json()["data"]["name"] == "F0"


def test_unknown_flow_is_404(app_client: TestClient, auth: dict[str, str]) -> None:
    r = app_client.get(f"{API}/flow/nope", headers=auth)
    assert r.status_code == 404
    assert r.json()["failedCode"] == "flow-033"


def test_flow_needs_import_permission(
    app_client: TestClient, token_for: Callable[..., str]
) -> None:
    headers = {"Authorization": f"Bearer {token_for(perms='export')}"}
    r = app_client.post(f"{API}/flow", json={"name": "F"}, headers=headers)
    assert r.status_code == 403 and r.json()["failedCode"] == "auth-003"
