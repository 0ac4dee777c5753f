"""Data types: the vendor's shapes (`data_type`, `data_types`), both field spellings,
one primary key, commonData fixed after creation, PUT/PATCH/DELETE."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

API = "/api/v3"
VENDOR_FIELDS: list[dict[str, Any]] = [
    {"id": "dataId", "title": "Data ID", "type": "string", "optionData": [], "required": True,
     "primaryKey": True},
    {"id": "outletName", "title": "Outlet Name", "type": "string", "optionData": [],
     "required": True},
    {"id": "outletHours", "title": "Outlet Hours", "default": 12, "type": "number",
     "optionData": [], "required": True},
    {"id": "outletType", "title": "Outlet Type", "type": "string",
     "optionData": ["minimarket", "supermarket"], "required": True},
    {"id": "outletCloseOrder", "title": "Outlet Close Order", "description": "when",
     "type": "string", "format": "date-time", "optionData": [], "required": True},
]  # fmt: skip


def _create(client: TestClient, auth: dict[str, str], **body: Any) -> Any:
    r = client.post(f"{API}/data-type", json={"name": "Outlet", **body}, headers=auth)
    assert r.status_code == 201, r.text
    return r.json()["data_type"]


@pytest.mark.parametrize("slash", ["", "/"])
def test_create_with_the_vendor_example(
    app_client: TestClient, auth: dict[str, str], slash: str
) -> None:
    body = {"name": "OutletDetail", "fields": VENDOR_FIELDS}
    r = app_client.post(f"{API}/data-type{slash}", json=body, headers=auth)
    assert r.status_code == 201, r.text
    answer = r.json()
    assert answer["status"] is True and answer["message"] == "Success"
    dt = answer["data_type"]
    assert dt["name"] == "OutletDetail"
    assert dt["commonData"] is False
    assert dt["provider"] == "internal" and dt["providerConfig"] is None
    assert dt["createdBy"] == "ops@acme.test"
    assert set(dt) >= {"_id", "organizationId", "createdTime", "updatedTime"}
    fields = {f["id"]: f for f in dt["fields"]}
    assert list(fields) == ["dataId", "outletName", "outletHours", "outletType", "outletCloseOrder"]
    assert fields["dataId"]["primaryKey"] is True and fields["dataId"]["required"] is True
    assert fields["outletHours"] == {
        "id": "outletHours", "title": "Outlet Hours", "type": "number", "required": True,
        "primaryKey": False, "optionData": [], "default": 12,
    }  # fmt: skip
    assert fields["outletType"]["type"] == "option"  # string + optionData
    assert fields["outletType"]["optionData"] == ["minimarket", "supermarket"]
    assert fields["outletCloseOrder"]["type"] == "datetime"  # string + format date-time
    assert fields["outletCloseOrder"]["description"] == "when"
    assert all("inputType" not in f and "isRequired" not in f for f in dt["fields"])


def test_the_other_spelling_is_accepted(app_client: TestClient, auth: dict[str, str]) -> None:
    dt = _create(
        app_client,
        auth,
        fields=[
            {"id": "name", "title": "Name", "inputType": "string", "isRequired": True},
            {"id": "qty", "title": "Qty", "inputType": "integer"},
        ],
    )
    fields = {f["id"]: f for f in dt["fields"]}
    assert fields["name"]["required"] is True and fields["name"]["type"] == "string"
    assert fields["qty"]["type"] == "integer" and fields["qty"]["required"] is False
    # dataId is added as the primary key when no field is marked
    assert dt["fields"][0] == {
        "id": "dataId", "title": "Data ID", "type": "string", "required": True,
        "primaryKey": True, "optionData": [],
    }  # fmt: skip


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        ({"fields": []}, "datatype-001", "name is required"),
        ({"name": "  "}, "datatype-003", "name"),
        ({"name": "T", "commonData": "yes"}, "datatype-003", "commonData"),
        ({"name": "T", "fields": [{"id": "x", "type": "colour"}]}, "datatype-003", "colour"),
        ({"name": "T", "fields": [{"id": "x", "type": "option", "optionData": [{"a": [1]}]}]},
         "datatype-003", "optionData"),
        ({"name": "T", "fields": [{"id": "a", "primaryKey": True}, {"id": "b", "primaryKey": True}]},
         "datatype-003", "primaryKey"),
        ({"name": "T", "fields": [{"id": "hubId"}]}, "datatype-003", "reserved"),
        ({"name": "T", "fields": [{"title": "no id"}]}, "datatype-003", "id"),
        ({"name": "T", "provider": "external-api"}, "datatype-017", "provider"),
    ],
)  # fmt: skip
def test_create_rejects_bad_bodies(
    app_client: TestClient, auth: dict[str, str], body: Any, code: str, words: str
) -> None:
    r = app_client.post(f"{API}/data-type", json=body, headers=auth)
    assert r.status_code == 400, r.text
    assert r.json()["failedCode"] == code
    assert words in r.json()["message"]


def test_names_are_unique_per_organisation(
    app_client: TestClient, auth: dict[str, str], token_for: Callable[..., str]
) -> None:
    _create(app_client, auth)
    r = app_client.post(f"{API}/data-type", json={"name": "Outlet"}, headers=auth)
    assert r.status_code == 409 and r.json()["failedCode"] == "datatype-031"
    other = {"Authorization": f"Bearer {token_for('globex', 'a@globex.test')}"}
    assert (
        app_client.post(f"{API}/data-type", json={"name": "Outlet"}, headers=other).status_code
        == 201
    )


@pytest.mark.parametrize("slash", ["", "/"])
def test_list_and_get(app_client: TestClient, auth: dict[str, str], slash: str) -> None:
    first = _create(app_client, auth, name="A")
    _create(app_client, auth, name="B", commonData=True)
    r = app_client.get(f"{API}/data-types{slash}", headers=auth)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] is True and "data" not in body
    page = body["data_types"]
    assert page["total"] == 2 and page["current_page"] == 1 and page["per_page"] == 20
    assert {d["name"] for d in page["data"]} == {"A", "B"}
    r = app_client.get(f"{API}/data-type/{first['_id']}{slash}", headers=auth)
    assert r.status_code == 200
    assert r.json()["data_type"] == first


def test_unknown_type_is_404_with_the_vendor_message(
    app_client: TestClient, auth: dict[str, str]
) -> None:
    for method in ("get", "put", "patch", "delete"):
        kwargs: dict[str, Any] = {} if method in ("get", "delete") else {"json": {"name": "X"}}
        r = getattr(app_client, method)(f"{API}/data-type/{'a' * 24}", headers=auth, **kwargs)
        assert r.status_code == 404, method
        assert r.json() == {
            "status": False,
            "message": "Data not found",
            "failedCode": "datatype-033",
        }


@pytest.mark.parametrize("slash", ["", "/"])
def test_put_replaces_name_description_and_fields(
    app_client: TestClient, auth: dict[str, str], slash: str
) -> None:
    dt = _create(app_client, auth, fields=[{"id": "name", "title": "Name"}])
    body = {
        "name": "Store",
        "description": "Shops",
        "fields": [
            {"id": "dataId", "title": "Code", "primaryKey": True},
            {"id": "city", "title": "City"},
        ],
    }
    r = app_client.put(f"{API}/data-type/{dt['_id']}{slash}", json=body, headers=auth)
    assert r.status_code == 200, r.text
    changed = r.json()["data_type"]
    assert changed["name"] == "Store" and changed["description"] == "Shops"
    assert [f["id"] for f in changed["fields"]] == ["dataId", "city"]
    assert changed["fields"][0]["title"] == "Code"
    assert (
        app_client.get(f"{API}/data-type/{dt['_id']}", headers=auth).json()["data_type"] == changed
    )


def test_put_needs_name_and_fields(app_client: TestClient, auth: dict[str, str]) -> None:
    dt = _create(app_client, auth)
    r = app_client.put(f"{API}/data-type/{dt['_id']}", json={"fields": []}, headers=auth)
    assert r.status_code == 400 and r.json()["message"] == "name is required"
    r = app_client.put(f"{API}/data-type/{dt['_id']}", json={"name": "X"}, headers=auth)
    assert r.status_code == 400 and r.json()["message"] == "fields is required"


@pytest.mark.parametrize("slash", ["", "/"])
def test_patch_merges_fields_and_deletes_named_ones(
    app_client: TestClient, auth: dict[str, str], slash: str
) -> None:
    dt = _create(app_client, auth, fields=[{"id": "a", "title": "A"}, {"id": "b", "title": "B"}])
    body = {
        "fields": [{"id": "b", "title": "Bee", "type": "number"}, {"id": "c"}],
        "deleteFields": ["a"],
    }
    r = app_client.patch(f"{API}/data-type/{dt['_id']}{slash}", json=body, headers=auth)
    assert r.status_code == 200, r.text
    changed = r.json()["data_type"]
    assert changed["name"] == "Outlet"  # untouched
    assert [(f["id"], f["title"], f["type"]) for f in changed["fields"]] == [
        ("dataId", "Data ID", "string"), ("b", "Bee", "number"), ("c", "c", "string"),
    ]  # fmt: skip
    r = app_client.patch(f"{API}/data-type/{dt['_id']}", json={"name": "Renamed"}, headers=auth)
    assert r.json()["data_type"]["name"] == "Renamed"
    assert r.json()["data_type"]["fields"] == changed["fields"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"commonData": True}, 400, "datatype-032"),
        ({"deleteFields": ["dataId"]}, 400, "datatype-032"),
        ({"deleteFields": ["ghost"]}, 400, "datatype-003"),
        ({"fields": [{"id": "other", "primaryKey": True}]}, 400, "datatype-003"),
        ({"fields": [{"id": "x", "type": "colour"}]}, 400, "datatype-003"),
        ({"name": "Taken"}, 409, "datatype-031"),
    ],
)
def test_patch_refusals(
    app_client: TestClient, auth: dict[str, str], body: Any, status: int, code: str
) -> None:
    _create(app_client, auth, name="Taken")
    dt = _create(app_client, auth)
    r = app_client.patch(f"{API}/data-type/{dt['_id']}", json=body, headers=auth)
    assert r.status_code == status, r.text
    assert r.json()["failedCode"] == code
    assert app_client.get(f"{API}/data-type/{dt['_id']}", headers=auth).json()["data_type"] == dt


def test_primary_key_cannot_move_to_another_field(
    app_client: TestClient, auth: dict[str, str]
) -> None:
    dt = _create(app_client, auth, fields=[{"id": "code", "title": "Code"}])
    both = [{"id": "dataId", "primaryKey": True}, {"id": "code", "primaryKey": True}]
    r = app_client.put(
        f"{API}/data-type/{dt['_id']}", json={"name": "Outlet", "fields": both}, headers=auth
    )
    assert r.status_code == 400
    assert r.json()["failedCode"] == "datatype-003"  # two primary keys
    body = {"name": "Outlet", "fields": [{"id": "dataId"}, {"id": "code", "primaryKey": True}]}
    r = app_client.put(f"{API}/data-type/{dt['_id']}", json=body, headers=auth)
    assert r.status_code == 400
    assert r.json()["failedCode"] == "datatype-032"


def test_same_commonData_is_accepted(app_client: TestClient, auth: dict[str, str]) -> None:
    dt = _create(app_client, auth, commonData=True)
    r = app_client.patch(f"{API}/data-type/{dt['_id']}", json={"commonData": True}, headers=auth)
    assert r.status_code == 200 and r.json()["data_type"]["commonData"] is True


@pytest.mark.parametrize("slash", ["", "/"])
def test_delete_removes_the_type_and_its_records(
    app_client: TestClient, auth: dict[str, str], slash: str
) -> None:
    dt = _create(app_client, auth, commonData=True)
    keep = _create(app_client, auth, name="Keep", commonData=True)
    for type_id in (dt["_id"], keep["_id"]):
        r = app_client.post(
            f"{API}/data", json={"dataTypeId": type_id, "dataId": "A1"}, headers=auth
        )
        assert r.status_code == 201, r.text
    r = app_client.delete(f"{API}/data-type/{dt['_id']}{slash}", headers=auth)
    assert r.status_code == 200
    assert r.json() == {"status": True, "data_type": dt}
    assert app_client.get(f"{API}/data-type/{dt['_id']}", headers=auth).status_code == 404
    listed = app_client.get(f"{API}/data", headers=auth).json()["data"]
    assert [rec["dataTypeId"] for rec in listed["data"]] == [keep["_id"]]
    assert app_client.delete(f"{API}/data-type/{dt['_id']}", headers=auth).status_code == 404


def test_type_changes_need_import_or_admin(
    app_client: TestClient, auth: dict[str, str], token_for: Callable[..., str]
) -> None:
    dt = _create(app_client, auth)
    reader = {"Authorization": f"Bearer {token_for(perms='export')}"}
    calls = [
        ("post", f"{API}/data-type", {"name": "Z"}),
        ("put", f"{API}/data-type/{dt['_id']}", {"name": "Z", "fields": []}),
        ("patch", f"{API}/data-type/{dt['_id']}", {"name": "Z"}),
        ("delete", f"{API}/data-type/{dt['_id']}", None),
    ]
    for method, url, body in calls:
        kwargs = {"json": body} if body is not None else {}
        r = getattr(app_client, method)(url, headers=reader, **kwargs)
        assert r.status_code == 403, method
        assert r.json()["failedCode"] == "auth-003"
    assert app_client.get(f"{API}/data-type/{dt['_id']}", headers=reader).json()["data_type"] == dt
