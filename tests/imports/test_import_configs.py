"""Import configs: CRUD, validation, organisation scoping, and imports mapped by a config."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from loadbay.catalog.models import Record
from loadbay.db import Database
from tests.imports.conftest import csv_bytes

API = "/api/v3"
LOCAL_FIELDS = [
    {"id": "dataId", "headerColumn": "Kode"},
    {"id": "name", "headerColumn": "Nama Toko"},
    {"id": "phone", "headerColumn": "Telepon"},
]
Creator = Callable[..., Any]


def _nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.fixture
def create(app_client: TestClient, auth: dict[str, str], catalog: dict[str, str]) -> Creator:
    def _create(**overrides: Any) -> Any:
        body = {
            "name": "Outlets (ID)",
            "description": "Indonesian headers",
            "referenceType": "dataType",
            "referenceId": catalog["outlet"],
            "fields": LOCAL_FIELDS,
            **overrides,
        }
        return app_client.post(f"{API}/import-config", headers=auth, json=body)

    return _create


@pytest.fixture
def other(token_for: Callable[..., str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for('other-org', 'x@other.test')}"}


def test_create_read_update_delete(create, app_client, auth, catalog, org_id) -> None:
    response = create()
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] is True and body["message"] == "Success"
    config = body["data"]
    assert config == {
        "_id": config["_id"],
        "name": "Outlets (ID)",
        "description": "Indonesian headers",
        "collection": "data",
        "referenceType": "dataType",
        "referenceId": catalog["outlet"],
        "fields": LOCAL_FIELDS,
        "organizationId": org_id,
        "createdTime": config["createdTime"],
        "updatedTime": config["updatedTime"],
    }
    assert len(config["_id"]) == 24 and len(config["createdTime"]) == 19
    path = f"{API}/import-config/{config['_id']}"
    assert app_client.get(path, headers=auth).json()["data"] == config

    changed = app_client.put(
        path, headers=auth, json={"name": "Renamed", "fields": LOCAL_FIELDS[:2]}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["data"]["name"] == "Renamed"
    assert changed.json()["data"]["fields"] == LOCAL_FIELDS[:2]
    assert changed.json()["data"]["description"] == "Indonesian headers"  # kept
    assert app_client.get(path, headers=auth).json()["data"]["name"] == "Renamed"

    gone = app_client.delete(path, headers=auth)
    assert gone.status_code == 200 and gone.json()["data"]["_id"] == config["_id"]
    missing = app_client.get(path, headers=auth)
    assert missing.status_code == 404 and missing.json() == {
        "status": False,
        "message": f"Import config {config['_id']} not found",
        "failedCode": "import-033",
    }
    assert app_client.delete(path, headers=auth).status_code == 404


def test_flow_configs_and_the_list_with_filters(create, app_client, auth, catalog) -> None:
    create(name="one")
    create(name="two")
    flow = create(
        name="deliveries",
        referenceType="flow",
        referenceId=catalog["flow"],
        fields=[{"id": "orderNumber", "headerColumn": "SO"}, {"id": "title", "headerColumn": "T"}],
    ).json()["data"]
    assert flow["collection"] == "task" and flow["referenceType"] == "flow"

    listing = app_client.get(f"{API}/import-configs?limit=2", headers=auth).json()["data"]
    assert listing["total"] == 3 and listing["per_page"] == 2 and listing["last_page"] == 2
    assert [c["name"] for c in listing["data"]] == ["deliveries", "two"]  # newest first
    assert listing["next_page_url"].endswith("page=2")
    flows = app_client.get(f"{API}/import-configs?referenceType=flow", headers=auth).json()
    assert [c["name"] for c in flows["data"]["data"]] == ["deliveries"]
    by_id = app_client.get(
        f"{API}/import-configs?referenceId={catalog['outlet']}&sortOrder=asc", headers=auth
    ).json()["data"]
    assert [c["name"] for c in by_id["data"]] == ["one", "two"]
    bad = app_client.get(f"{API}/import-configs?referenceType=task", headers=auth)
    assert bad.status_code == 400 and bad.json()["failedCode"] == "import-003"


@pytest.mark.parametrize(
    ("overrides", "code", "message"),
    [
        ({"name": ""}, "import-001", "The name field is required"),
        ({"name": None}, "import-001", "The name field is required"),
        ({"referenceType": "task"}, "import-003", "referenceType must be one of dataType, flow"),
        ({"referenceId": "0" * 24}, "import-003", "referenceId: Data type"),
        ({"referenceId": None}, "import-001", "The referenceId field is required"),
        ({"fields": []}, "import-001", "The fields field is required"),
        (
            {"fields": [{"id": "shoeSize", "headerColumn": "Shoe"}]},
            "import-003",
            "fields.0.id: 'shoeSize' is not a field of Outlet",
        ),
        ({"fields": [{"id": "name"}]}, "import-001", "fields.0.headerColumn is required"),
        (
            {"fields": [{"id": "name", "headerColumn": "A"}, {"id": "name", "headerColumn": "B"}]},
            "import-003",
            "'name' is mapped twice",
        ),
        ({"fields": "dataId"}, "import-003", "fields must be a list"),
        ({"name": 7}, "import-003", "name must be a string"),
    ],
)
def test_create_validation(create, overrides, code, message) -> None:
    response = create(**overrides)
    assert response.status_code == 400, response.text
    assert response.json()["failedCode"] == code
    assert message in response.json()["message"]


def test_update_validation_and_a_body_that_is_not_an_object(create, app_client, auth) -> None:
    config_id = create().json()["data"]["_id"]
    path = f"{API}/import-config/{config_id}"
    bad = app_client.put(path, headers=auth, json={"fields": [{"id": "x", "headerColumn": "X"}]})
    assert bad.status_code == 400 and bad.json()["failedCode"] == "import-003"
    assert app_client.put(path, headers=auth, json={"name": ""}).status_code == 400
    listed = app_client.put(path, headers=auth, json=[1, 2])
    assert listed.status_code == 400 and listed.json()["failedCode"] == "import-003"
    raw = app_client.post(f"{API}/import-config", headers=auth, json="text")
    assert raw.status_code == 400 and raw.json()["failedCode"] == "import-003"
    assert app_client.get(path, headers=auth).json()["data"]["fields"] == LOCAL_FIELDS


@pytest.mark.parametrize(
    ("overrides", "code", "message"),
    [
        ({"name": "a\x00b"}, "import-003", "Text must not contain NUL characters"),
        ({"description": "a\x00b"}, "import-003", "Text must not contain NUL characters"),
        ({"referenceId": "a\x00b"}, "import-003", "Text must not contain NUL characters"),
        ({"collection": "a\x00b"}, "import-003", "Text must not contain NUL characters"),
        (
            {"fields": [{"id": "name", "headerColumn": "a\x00b"}]},
            "import-003",
            "Text must not contain NUL characters",
        ),
        ({"name": "n" * 201}, "import-003", "name must be at most 200 characters"),
        ({"collection": "c" * 101}, "import-003", "collection must be at most 100 characters"),
        (
            {"fields": [{"id": "name", "headerColumn": "A", "x": _nested(70)}]},
            "import-015",
            "nested deeper",
        ),
    ],
)
def test_text_the_database_cannot_store_is_a_400_on_every_engine(
    create, app_client, auth, overrides, code, message
) -> None:
    """PostgreSQL refuses NUL characters and text longer than the column; both were 500s
    there (and stored on SQLite). A config being changed is refused the same way."""
    response = create(**overrides)
    assert response.status_code == 400, response.text
    assert response.json()["failedCode"] == code
    assert message in response.json()["message"]
    path = f"{API}/import-config/{create().json()['data']['_id']}"
    changed = app_client.put(path, headers=auth, json=overrides)
    assert changed.status_code == 400 and changed.json()["failedCode"] == code, changed.text


def test_another_organisation_cannot_see_or_change_a_config(create, app_client, other) -> None:
    config_id = create().json()["data"]["_id"]
    path = f"{API}/import-config/{config_id}"
    for method, kwargs in (("GET", {}), ("PUT", {"json": {"name": "x"}}), ("DELETE", {})):
        response = app_client.request(method, path, headers=other, **kwargs)
        assert response.status_code == 404 and response.json()["failedCode"] == "import-033"
    assert app_client.get(f"{API}/import-configs", headers=other).json()["data"]["total"] == 0


def _records(db: Database) -> dict[str, dict[str, Any]]:
    with db.read() as session:
        return {r.data_id: r.data for r in session.scalars(sa.select(Record))}


def test_an_import_maps_by_its_config_end_to_end(
    create, upload, monitoring, app_client, auth, catalog, db
) -> None:
    """Headers automatic matching cannot place: without the config the job fails."""
    content = csv_bytes(
        [["Telepon", "Kode", "Nama Toko"], ["0812", "007", "Toko Satu"], ["", "008", "Dua"]]
    )
    unmapped = monitoring(upload(content).json()["data"]["_id"])
    assert unmapped["status"] == "failed" and "Name (name)" in unmapped["errorMessage"]
    assert _records(db) == {}

    config_id = create().json()["data"]["_id"]
    job = monitoring(upload(content, importConfigId=config_id).json()["data"]["_id"])
    assert job["status"] == "success" and job["totalValid"] == 2
    saved = _records(db)
    assert saved["007"]["name"] == "Toko Satu" and saved["007"]["phone"] == "0812"
    assert saved["008"]["name"] == "Dua"

    # The import-job view: the preview suggests the config's mapping, a confirm may name one.
    preview = app_client.post(
        f"{API}/import-jobs",
        headers=auth,
        data={
            "dataTypeId": catalog["outlet"],
            "hubId": catalog["hub"],
            "importConfigId": config_id,
        },
        files={"file": ("x.csv", content)},
    ).json()["data"]
    assert preview["suggestedMapping"] == LOCAL_FIELDS
    assert preview["previewRows"][0]["values"] == {
        "dataId": "007",
        "name": "Toko Satu",
        "phone": "0812",
    }
    plain = app_client.post(
        f"{API}/import-jobs",
        headers=auth,
        data={"dataTypeId": catalog["outlet"], "hubId": catalog["hub"]},
        files={"file": ("x.csv", content.replace(b"Toko Satu", b"Toko Baru"))},
    ).json()["data"]
    confirmed = app_client.put(
        f"{API}/import-jobs/{plain['code']}", headers=auth, json={"importConfigId": config_id}
    )
    assert confirmed.status_code == 201, confirmed.text
    assert confirmed.json()["data"]["updatedCount"] == 2
    assert _records(db)["007"]["name"] == "Toko Baru"


def test_a_config_of_another_target_is_refused(create, upload, catalog) -> None:
    config_id = create().json()["data"]["_id"]
    content = csv_bytes([["Kode", "Nama Toko"], ["1", "a"]])
    wrong = upload(content, dataTypeId=catalog["brand"], hubId="", importConfigId=config_id)
    assert wrong.status_code == 400 and wrong.json()["failedCode"] == "import-003"
    unknown = upload(content, importConfigId="0" * 24)
    assert unknown.status_code == 422 and unknown.json()["failedCode"] == "import-033"


def test_a_config_without_description_leaves_it_out(create, app_client, auth) -> None:
    """A string with no value is left out of the body, never null (DECISIONS)."""
    response = create(description=None)
    assert response.status_code == 201, response.text
    config = response.json()["data"]
    assert "description" not in config
    listed = app_client.get(f"{API}/import-configs", headers=auth).json()["data"]["data"]
    assert all("description" not in c for c in listed)
