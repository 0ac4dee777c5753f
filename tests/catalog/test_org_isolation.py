"""One organisation can never read, list, change or write into another's catalog.

Every attempt answers exactly as an unknown id would (404), never 403."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

API = "/api/v3"


@pytest.fixture
def org_a(app_client: TestClient, auth: dict[str, str]) -> dict[str, str]:
    def post(path: str, body: dict[str, Any]) -> str:
        r = app_client.post(f"{API}/{path}", json=body, headers=auth)
        assert r.status_code == 201, r.text
        answer = r.json()
        return str((answer.get("data") or answer["data_type"])["_id"])

    hub = post("hub", {"name": "A hub"})
    flow = post("flow", {"name": "A flow"})
    data_type = post("data-type", {"name": "A type"})
    record = post("data", {"dataTypeId": data_type, "hubId": hub, "dataId": "A-1"})
    task = post("task", {"flowId": flow, "hubId": hub, "title": "A task"})
    return {"hub": hub, "flow": flow, "type": data_type, "record": record, "task": task}


@pytest.fixture
def org_b(token_for: Callable[..., str]) -> dict[str, str]:
    token = token_for("globex", "boss@globex.test", "import,export,admin")
    return {"Authorization": f"Bearer {token}"}


def _not_found(r: Any, code: str) -> None:
    assert r.status_code == 404, r.text
    assert r.json()["failedCode"] == code


def test_b_cannot_read_a(
    app_client: TestClient, org_a: dict[str, str], org_b: dict[str, str]
) -> None:
    _not_found(app_client.get(f"{API}/hub/{org_a['hub']}", headers=org_b), "hub-033")
    _not_found(app_client.get(f"{API}/flow/{org_a['flow']}", headers=org_b), "flow-033")
    _not_found(app_client.get(f"{API}/data-type/{org_a['type']}", headers=org_b), "datatype-033")
    _not_found(app_client.get(f"{API}/data/{org_a['record']}", headers=org_b), "data-033")
    _not_found(app_client.get(f"{API}/task/{org_a['task']}", headers=org_b), "task-033")


def test_b_lists_nothing_of_a(
    app_client: TestClient, org_a: dict[str, str], org_b: dict[str, str]
) -> None:
    lists = [
        ("hubs", {}, "data"),
        ("flows", {}, "data"),
        ("data-types", {}, "data_types"),
        ("data", {"dataTypeId": org_a["type"], "hubId": org_a["hub"]}, "data"),
        ("tasks", {"flowId": org_a["flow"], "hubId": org_a["hub"]}, "data"),
    ]
    for path, params, key in lists:
        r = app_client.get(f"{API}/{path}", params=params, headers=org_b)
        assert r.status_code == 200
        assert r.json()[key]["total"] == 0, path
        assert r.json()[key]["data"] == []


def test_b_cannot_change_or_delete_a_type(
    app_client: TestClient, auth: dict[str, str], org_a: dict[str, str], org_b: dict[str, str]
) -> None:
    url = f"{API}/data-type/{org_a['type']}"
    _not_found(app_client.put(url, json={"name": "X", "fields": []}, headers=org_b), "datatype-033")
    _not_found(app_client.patch(url, json={"name": "X"}, headers=org_b), "datatype-033")
    _not_found(app_client.delete(url, headers=org_b), "datatype-033")
    assert app_client.get(url, headers=auth).json()["data_type"]["name"] == "A type"
    assert app_client.get(f"{API}/data", headers=auth).json()["data"]["total"] == 1


def test_b_cannot_write_into_a(
    app_client: TestClient, auth: dict[str, str], org_a: dict[str, str], org_b: dict[str, str]
) -> None:
    into_a = {"dataTypeId": org_a["type"], "hubId": org_a["hub"], "dataId": "B-1"}
    _not_found(app_client.post(f"{API}/data", json=into_a, headers=org_b), "datatype-033")
    answer = app_client.post(
        f"{API}/data/bulk/upsert", json={"data": [{**into_a, "dataId": "A-1"}]}, headers=org_b
    ).json()
    assert answer["success"] == 0 and answer["data"][0]["status"] is False
    assert "_id" not in answer["data"][0]  # A's record id does not leak

    b_type = app_client.post(f"{API}/data-type", json={"name": "B type"}, headers=org_b).json()
    with_a_hub = {"dataTypeId": b_type["data_type"]["_id"], "hubId": org_a["hub"], "dataId": "1"}
    _not_found(app_client.post(f"{API}/data", json=with_a_hub, headers=org_b), "hub-033")

    task = {"flowId": org_a["flow"], "title": "B task"}
    _not_found(app_client.post(f"{API}/task", json=task, headers=org_b), "flow-033")
    b_flow = app_client.post(f"{API}/flow", json={"name": "B flow"}, headers=org_b).json()["data"]
    task = {"flowId": b_flow["_id"], "hubId": org_a["hub"]}
    _not_found(app_client.post(f"{API}/task", json=task, headers=org_b), "hub-033")

    record = app_client.get(f"{API}/data/{org_a['record']}", headers=auth).json()["data"]
    assert record["dataId"] == "A-1"
    assert app_client.get(f"{API}/tasks", headers=auth).json()["data"]["total"] == 1


def test_same_names_live_side_by_side(
    app_client: TestClient, org_a: dict[str, str], org_b: dict[str, str]
) -> None:
    for path, body in (("hub", {"name": "A hub"}), ("flow", {"name": "A flow"})):
        assert app_client.post(f"{API}/{path}", json=body, headers=org_b).status_code == 201
