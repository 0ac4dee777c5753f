"""`POST /data/bulk/upsert`: the vendor's body and its `{success, failed, data}` answer."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

API = "/api/v3"


@pytest.fixture
def ids(app_client: TestClient, auth: dict[str, str]) -> dict[str, str]:
    hub = app_client.post(f"{API}/hub", json={"name": "Gambir"}, headers=auth).json()["data"]
    fields = [
        {"id": "field1", "title": "Name", "type": "string", "required": True},
        {"id": "field2", "title": "Address", "type": "string"},
        {"id": "field3", "title": "Location", "type": "coordinate"},
    ]
    per_hub = app_client.post(
        f"{API}/data-type", json={"name": "Nasabah", "fields": fields}, headers=auth
    ).json()["data_type"]
    common = app_client.post(
        f"{API}/data-type", json={"name": "Brand", "commonData": True}, headers=auth
    ).json()["data_type"]
    return {"hub": hub["_id"], "type": per_hub["_id"], "common": common["_id"]}


def _item(ids: dict[str, str], data_id: str, **over: Any) -> dict[str, Any]:
    item = {
        "dataId": data_id,
        "dataTypeId": ids["type"],
        "hubId": ids["hub"],
        "field1": "Jack Ward",
        "field2": "Gambir Jakarta",
        "field3": "-6.230815251,106.75684387",
        "limitUser": None,
    }
    return {**item, **over}


@pytest.mark.parametrize("slash", ["", "/"])
def test_vendor_example_creates_then_updates(
    app_client: TestClient, auth: dict[str, str], ids: dict[str, str], slash: str
) -> None:
    url = f"{API}/data/bulk/upsert{slash}"
    body = {"data": [_item(ids, "N001"), _item(ids, "N002", field2="Menteng Jakarta")]}
    r = app_client.post(url, json=body, headers=auth)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert set(answer) == {"success", "failed", "data"}
    assert answer["success"] == 2 and answer["failed"] == 0
    for result in answer["data"]:
        assert result["status"] is True
        assert result["event"] == "create"
        assert result["message"] == "Data has been created successfully."
        assert len(result["_id"]) == 24
    created = [res["_id"] for res in answer["data"]]

    body = {"data": [_item(ids, "N001", field1="Jill"), _item(ids, "N003")]}
    answer = app_client.post(url, json=body, headers=auth).json()
    assert [(d["event"], d["status"]) for d in answer["data"]] == [
        ("update", True),
        ("create", True),
    ]
    assert answer["data"][0]["_id"] == created[0]
    assert answer["data"][0]["message"] == "Data has been updated successfully."
    rec = app_client.get(f"{API}/data/{created[0]}", headers=auth).json()["data"]
    assert rec["field1"] == "Jill"
    assert app_client.get(f"{API}/data", headers=auth).json()["data"]["total"] == 3


def test_failed_items_do_not_stop_the_others(
    app_client: TestClient, auth: dict[str, str], ids: dict[str, str]
) -> None:
    app_client.post(f"{API}/data/bulk/upsert", json={"data": [_item(ids, "OLD")]}, headers=auth)
    items = [
        _item(ids, "A1"),
        _item(ids, "A2", field3="far away"),
        _item(ids, "OLD", field1=""),
        _item(ids, "A3", dataTypeId="0" * 24),
        _item(ids, "A4", hubId=None),
        "not an object",
        _item(ids, "A5", colour="red"),
    ]
    answer = app_client.post(f"{API}/data/bulk/upsert", json={"data": items}, headers=auth).json()
    assert answer["success"] == 1 and answer["failed"] == 6
    ok, bad_value, bad_update, no_type, no_hub, not_object, unknown = answer["data"]
    assert ok["status"] is True and ok["event"] == "create"
    assert bad_value["status"] is False and "field3" in bad_value["message"]
    assert bad_value["event"] == "create" and "_id" not in bad_value
    assert bad_update["event"] == "update" and "field1: is required" in bad_update["message"]
    assert len(bad_update["_id"]) == 24
    assert no_type == {"status": False, "message": "Data type not found"}
    assert no_hub["status"] is False and "hubId is required" in no_hub["message"]
    assert not_object["status"] is False
    assert "colour" in unknown["message"]
    listed = app_client.get(f"{API}/data", headers=auth).json()["data"]["data"]
    assert {r["dataId"] for r in listed} == {"OLD", "A1"}
    assert next(r for r in listed if r["dataId"] == "OLD")["field1"] == "Jack Ward"


def test_a_key_repeated_in_one_request_updates_what_it_created(
    app_client: TestClient, auth: dict[str, str], ids: dict[str, str]
) -> None:
    items = [_item(ids, "D1", field1="first"), _item(ids, "D1", field1="second")]
    answer = app_client.post(f"{API}/data/bulk/upsert", json={"data": items}, headers=auth).json()
    first, second = answer["data"]
    assert (first["event"], second["event"]) == ("create", "update")
    assert first["_id"] == second["_id"]
    rec = app_client.get(f"{API}/data/{first['_id']}", headers=auth).json()["data"]
    assert rec["field1"] == "second"


def test_body_level_defaults_and_commonData(
    app_client: TestClient, auth: dict[str, str], ids: dict[str, str]
) -> None:
    body = {"dataTypeId": ids["common"], "data": [{"dataId": "X"}, {"dataId": "Y"}]}
    answer = app_client.post(f"{API}/data/bulk/upsert", json=body, headers=auth).json()
    assert answer["success"] == 2
    body = {"dataTypeId": ids["common"], "hubId": ids["hub"], "data": [{"dataId": "X"}]}
    answer = app_client.post(f"{API}/data/bulk/upsert", json=body, headers=auth).json()
    assert answer["data"][0]["event"] == "update"  # one scope for the whole organisation


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "data-001"),
        ({"data": {"dataId": "x"}}, "data-003"),
        ({"data": [{"dataId": str(n)} for n in range(2001)]}, "data-040"),
    ],
)
def test_bad_bulk_bodies(
    app_client: TestClient, auth: dict[str, str], body: Any, code: str
) -> None:
    r = app_client.post(f"{API}/data/bulk/upsert", json=body, headers=auth)
    assert r.status_code == 400
    assert r.json()["failedCode"] == code


def test_two_thousand_items_are_accepted(
    app_client: TestClient, auth: dict[str, str], ids: dict[str, str]
) -> None:
    body = {"dataTypeId": ids["common"], "data": [{"dataId": f"K{n}"} for n in range(2000)]}
    answer = app_client.post(f"{API}/data/bulk/upsert", json=body, headers=auth).json()
    assert answer["success"] == 2000
    assert len({d["_id"] for d in answer["data"]}) == 2000
    assert app_client.get(f"{API}/data", headers=auth).json()["data"]["total"] == 2000


def test_empty_list_changes_nothing(app_client: TestClient, auth: dict[str, str]) -> None:
    r = app_client.post(f"{API}/data/bulk/upsert", json={"data": []}, headers=auth)
    assert r.status_code == 200
    assert r.json() == {"success": 0, "failed": 0, "data": []}


def test_bulk_needs_import(app_client: TestClient, token_for: Any) -> None:
    headers = {"Authorization": f"Bearer {token_for(perms='export')}"}
    r = app_client.post(f"{API}/data/bulk/upsert", json={"data": []}, headers=headers)
    assert r.status_code == 403 and r.json()["failedCode"] == "auth-003"
