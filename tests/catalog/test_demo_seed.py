"""`seed_demo`: the demo catalog, readable through the API, and idempotent."""

from __future__ import annotations

from fastapi.testclient import TestClient

from loadbay.auth import issue_token
from loadbay.catalog.demo import RECORDS, TASKS, seed_demo
from loadbay.db import Database

API = "/api/v3"


def test_seed_twice_gives_one_demo(db: Database, app_client: TestClient) -> None:
    with db.write() as session:
        first = seed_demo(session)
    assert first["recordsAdded"] == RECORDS and first["tasksAdded"] == TASKS
    with db.write() as session:
        again = seed_demo(session)
    assert {k: again[k] for k in ("organizationId", "hubId", "dataTypeId", "flowId")} == {
        k: first[k] for k in ("organizationId", "hubId", "dataTypeId", "flowId")
    }
    assert again["recordsAdded"] == 0 and again["tasksAdded"] == 0

    headers = {
        "Authorization": f"Bearer {issue_token(first['organizationId'], 'd@x.test', ['export'])}"
    }
    types = app_client.get(f"{API}/data-types", headers=headers).json()["data_types"]
    assert [t["name"] for t in types["data"]] == ["Outlet"]
    fields = {f["id"]: f for f in types["data"][0]["fields"]}
    assert fields["dataId"]["primaryKey"] is True
    assert fields["category"]["optionData"] == ["Retail", "Wholesale", "Horeca"]
    assert {f["type"] for f in fields.values()} >= {
        "phone",
        "coordinate",
        "date",
        "number",
        "boolean",
    }

    records = app_client.get(f"{API}/data", params={"limit": 100}, headers=headers).json()["data"]
    assert records["total"] == RECORDS
    assert len({r["dataId"] for r in records["data"]}) == RECORDS
    assert all(r["hubId"] == first["hubId"] for r in records["data"])
    tasks = app_client.get(f"{API}/tasks", params={"limit": 100}, headers=headers).json()["data"]
    assert tasks["total"] == TASKS
    assert {t["status"] for t in tasks["data"]} == {"UNASSIGNED", "ONGOING", "DONE"}
    assert all(t["flow"] == "Delivery" and t["orderNumber"] for t in tasks["data"])
    hubs = app_client.get(f"{API}/hubs", headers=headers).json()["data"]
    assert [h["name"] for h in hubs["data"]] == ["Jakarta"]


def test_seed_into_a_named_organisation(db: Database) -> None:
    with db.write() as session:
        one = seed_demo(session, org_name="one")
        two = seed_demo(session, org_name="two")
    assert one["organizationId"] != two["organizationId"]
    assert two["recordsAdded"] == RECORDS
