"""Tasks: `POST /task` with the flow's own fields at top level, `GET /tasks` with filters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

API = "/api/v3"


@pytest.fixture
def ids(app_client: TestClient, auth: dict[str, str]) -> dict[str, str]:
    hub = app_client.post(f"{API}/hub", json={"name": "Jakarta"}, headers=auth).json()["data"]
    fields = [
        {"id": "orderNumber", "title": "Order", "type": "string", "required": True},
        {"id": "weight", "title": "Weight", "type": "number"},
        {"id": "deliveryDate", "title": "Date", "type": "date"},
    ]
    flow = app_client.post(
        f"{API}/flow", json={"name": "Delivery", "fields": fields}, headers=auth
    ).json()["data"]
    visit = app_client.post(f"{API}/flow", json={"name": "Visit"}, headers=auth).json()["data"]
    return {"hub": hub["_id"], "flow": flow["_id"], "visit": visit["_id"]}


def _task(ids: dict[str, str], **over: Any) -> dict[str, Any]:
    body = {
        "flowId": ids["flow"],
        "hubId": ids["hub"],
        "title": "Deliver to Toko Sudirman",
        "assignee": "driver@acme.test",
        "startTime": "2024-01-08 08:00:00",
        "endTime": "2024-01-08T17:00:00+07:00",
        "orderNumber": "DO-0001",
        "weight": "12.5",
        "deliveryDate": "08/01/2024",
    }
    return {**body, **over}


@pytest.mark.parametrize("slash", ["", "/"])
def test_create_task(
    app_client: TestClient, auth: dict[str, str], ids: dict[str, str], slash: str
) -> None:
    r = app_client.post(f"{API}/task{slash}", json=_task(ids), headers=auth)
    assert r.status_code == 201, r.text
    task = r.json()["data"]
    assert task["title"] == "Deliver to Toko Sudirman"
    assert task["flowId"] == ids["flow"] and task["flow"] == "Delivery"
    assert task["hubId"] == ids["hub"]
    assert task["status"] == "UNASSIGNED"
    assert task["assignee"] == "driver@acme.test"
    assert task["startTime"] == "2024-01-08 08:00:00"
    assert task["endTime"] == "2024-01-08 10:00:00"  # stored in UTC
    assert task["orderNumber"] == "DO-0001"
    assert task["weight"] == 12.5
    assert task["deliveryDate"] == "2024-01-08"
    assert task["createdBy"] == "ops@acme.test"
    assert set(task) >= {"_id", "createdTime", "updatedTime", "organizationId"}
    assert "doneBy" not in task and "doneTime" not in task  # absent, never null


def test_done_task_and_status_spelling(
    app_client: TestClient, auth: dict[str, str], ids: dict[str, str]
) -> None:
    body = _task(ids, status="done", doneBy="driver@acme.test", doneTime="2024-01-08 09:30")
    r = app_client.post(f"{API}/task", json=body, headers=auth)
    assert r.status_code == 201, r.text
    task = r.json()["data"]
    assert task["status"] == "DONE"
    assert task["doneTime"] == "2024-01-08 09:30:00"


def test_minimal_task(app_client: TestClient, auth: dict[str, str], ids: dict[str, str]) -> None:
    r = app_client.post(f"{API}/task", json={"flowId": ids["visit"]}, headers=auth)
    assert r.status_code == 201, r.text
    task = r.json()["data"]
    assert task["status"] == "UNASSIGNED" and task["flow"] == "Visit"
    assert "hubId" not in task and "title" not in task


@pytest.mark.parametrize(
    ("over", "status", "code", "words"),
    [
        ({"flowId": None}, 400, "task-001", "flowId is required"),
        ({"flowId": "0" * 24}, 404, "flow-033", "Flow not found"),
        ({"hubId": "0" * 24}, 404, "hub-033", "Hub not found"),
        ({"status": "FINISHED"}, 400, "task-017", "UNASSIGNED, ONGOING, DONE"),
        ({"status": 3}, 400, "task-017", "status"),
        ({"startTime": "yesterday"}, 400, "task-003", "startTime"),
        ({"endTime": "2024-01-07 00:00:00"}, 400, "task-003", "endTime must not be before"),
        ({"title": ["a"]}, 400, "task-003", "title"),
        ({"assignee": "x" * 321}, 400, "task-003", "assignee"),
        ({"orderNumber": ""}, 400, "task-001", "orderNumber: is required"),
        ({"weight": "heavy"}, 400, "task-003", "weight"),
        ({"colour": "red"}, 400, "task-003", "colour"),
    ],
)
def test_create_task_refusals(
    app_client: TestClient,
    auth: dict[str, str],
    ids: dict[str, str],
    over: dict[str, Any],
    status: int,
    code: str,
    words: str,
) -> None:
    r = app_client.post(f"{API}/task", json=_task(ids, **over), headers=auth)
    assert r.status_code == status, r.text
    assert r.json()["failedCode"] == code
    assert words in r.json()["message"]


@pytest.mark.parametrize("slash", ["", "/"])
def test_list_tasks_with_filters(
    app_client: TestClient, auth: dict[str, str], ids: dict[str, str], slash: str
) -> None:
    bodies = [
        _task(ids, orderNumber="1", status="ONGOING"),
        _task(ids, orderNumber="2", status="DONE", assignee="other@acme.test"),
        _task(ids, orderNumber="3", hubId=None),
        {"flowId": ids["visit"], "hubId": ids["hub"]},
    ]
    for body in bodies:
        assert app_client.post(f"{API}/task", json=body, headers=auth).status_code == 201

    def listed(**params: Any) -> Any:
        r = app_client.get(f"{API}/tasks{slash}", params=params, headers=auth)
        assert r.status_code == 200, r.text
        return r.json()["data"]

    assert listed()["total"] == 4
    assert listed(flowId=ids["flow"])["total"] == 3
    assert listed(hubId=ids["hub"])["total"] == 3
    assert [t["orderNumber"] for t in listed(status="ongoing")["data"]] == ["1"]
    assert [t["orderNumber"] for t in listed(assignee="other@acme.test")["data"]] == ["2"]
    assert listed(flowId=ids["flow"], status="DONE", hubId=ids["hub"])["total"] == 1
    page = listed(limit=3, page=2)
    assert len(page["data"]) == 1 and page["last_page"] == 2
    assert {t["flow"] for t in listed()["data"]} == {"Delivery", "Visit"}
    r = app_client.get(f"{API}/tasks", params={"status": "LOST"}, headers=auth)
    assert r.status_code == 400 and r.json()["failedCode"] == "task-017"


def test_get_one_task(app_client: TestClient, auth: dict[str, str], ids: dict[str, str]) -> None:
    task = app_client.post(f"{API}/task", json=_task(ids), headers=auth).json()["data"]
    r = app_client.get(f"{API}/task/{task['_id']}", headers=auth)
    assert r.status_code == 200 and r.json()["data"] == task
    r = app_client.get(f"{API}/task/{'1' * 24}", headers=auth)
    assert r.status_code == 404 and r.json()["failedCode"] == "task-033"


def test_creating_tasks_needs_import(
    app_client: TestClient, ids: dict[str, str], token_for: Callable[..., str]
) -> None:
    headers = {"Authorization": f"Bearer {token_for(perms='export')}"}
    r = app_client.post(f"{API}/task", json=_task(ids), headers=headers)
    assert r.status_code == 403 and r.json()["failedCode"] == "auth-003"
    assert app_client.get(f"{API}/tasks", headers=headers).status_code == 200
