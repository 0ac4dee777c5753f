"""Data-source records: `POST /data` validated against the type, `GET /data`, `GET /data/{id}`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

API = "/api/v3"
FIELDS = [
    {"id": "dataId", "title": "Data ID", "type": "string", "primaryKey": True},
    {"id": "outletName", "title": "Outlet Name", "type": "string", "required": True},
    {"id": "outletHours", "title": "Outlet Hours", "type": "number"},
    {"id": "outletType", "title": "Type", "type": "option", "optionData": ["minimarket", "warung"]},
    {"id": "outletOpenInWeekend", "title": "Weekend", "type": "boolean"},
    {"id": "outletGeolocation", "title": "Geo", "type": "coordinate"},
    {"id": "outletContractExpired", "title": "Expiry", "type": "date"},
    {"id": "outletCloseOrder", "title": "Close order", "type": "datetime"},
    {"id": "outletPhoneNumber", "title": "Phone", "type": "phone"},
]


@pytest.fixture
def setup(app_client: TestClient, auth: dict[str, str]) -> dict[str, str]:
    def post(path: str, body: dict[str, Any]) -> str:
        r = app_client.post(f"{API}/{path}", json=body, headers=auth)
        assert r.status_code == 201, r.text
        answer = r.json()
        return str((answer.get("data") or answer["data_type"])["_id"])

    return {
        "hub": post("hub", {"name": "Jakarta"}),
        "hub2": post("hub", {"name": "Bandung"}),
        "perHub": post("data-type", {"name": "Outlet", "fields": FIELDS}),
        "common": post("data-type", {"name": "Brand", "commonData": True}),
    }


def _vendor_body(ids: dict[str, str], **over: Any) -> dict[str, Any]:
    body = {
        "dataId": "OutletAdi",
        "dataTypeId": ids["perHub"],
        "hubId": ids["hub"],
        "outletName": "Cabang Jakarta Pusat",
        "outletHours": 12,
        "outletType": "minimarket",
        "outletOpenInWeekend": True,
        "outletGeolocation": "-6.171702325136309,106.81775093078615",
        "outletContractExpired": "2023-02-02",
        "outletCloseOrder": "2023-02-02 17:00:00",
        "outletPhoneNumber": "+62 123 456 789",
    }
    return {**body, **over}


@pytest.mark.parametrize("slash", ["", "/"])
def test_create_record_with_the_vendor_shape(
    app_client: TestClient, auth: dict[str, str], setup: dict[str, str], slash: str
) -> None:
    r = app_client.post(f"{API}/data{slash}", json=_vendor_body(setup), headers=auth)
    assert r.status_code == 201, r.text
    rec = r.json()["data"]
    assert rec["dataId"] == "OutletAdi"
    assert rec["dataTypeId"] == setup["perHub"]
    assert rec["data_type"] == {"_id": setup["perHub"], "name": "Outlet"}
    assert rec["hubId"] == setup["hub"]
    assert rec["outletHours"] == 12
    assert rec["outletOpenInWeekend"] is True
    assert rec["outletCloseOrder"] == "2023-02-02T17:00:00"
    assert rec["outletContractExpired"] == "2023-02-02"
    assert rec["createdBy"] == rec["updatedBy"] == "ops@acme.test"
    assert set(rec) >= {"_id", "organizationId", "createdTime", "updatedTime"}
    r = app_client.get(f"{API}/data/{rec['_id']}{slash}", headers=auth)
    assert r.status_code == 200 and r.json()["data"] == rec


def test_values_are_converted_not_guessed(
    app_client: TestClient, auth: dict[str, str], setup: dict[str, str]
) -> None:
    body = _vendor_body(setup, dataId="007", outletHours="12.5", outletOpenInWeekend="no",
                        outletType="WARUNG", outletContractExpired="02/02/2023")  # fmt: skip
    r = app_client.post(f"{API}/data", json=body, headers=auth)
    assert r.status_code == 201, r.text
    rec = r.json()["data"]
    assert rec["dataId"] == "007"  # leading zeros kept
    assert rec["outletHours"] == 12.5
    assert rec["outletOpenInWeekend"] is False
    assert rec["outletType"] == "warung"
    assert rec["outletContractExpired"] == "2023-02-02"


def test_optional_fields_may_be_left_out(
    app_client: TestClient, auth: dict[str, str], setup: dict[str, str]
) -> None:
    body = {"dataTypeId": setup["perHub"], "hubId": setup["hub"], "dataId": "A", "outletName": "N",
            "outletHours": None, "outletType": ""}  # fmt: skip
    r = app_client.post(f"{API}/data", json=body, headers=auth)
    assert r.status_code == 201, r.text
    rec = r.json()["data"]
    assert "outletHours" not in rec and "outletType" not in rec


@pytest.mark.parametrize(
    ("over", "code", "words"),
    [
        ({"outletHours": "twelve"}, "data-003", "outletHours: 'twelve' is not a number"),
        ({"outletType": "hypermarket"}, "data-003", "outletType"),
        ({"outletOpenInWeekend": "maybe"}, "data-003", "outletOpenInWeekend"),
        ({"outletGeolocation": "-100,10"}, "data-003", "outletGeolocation"),
        ({"outletContractExpired": "2023-13-45"}, "data-003", "outletContractExpired"),
        ({"outletPhoneNumber": "call me"}, "data-003", "outletPhoneNumber"),
        ({"outletName": {"a": 1}}, "data-003", "outletName"),
        ({"outletName": None}, "data-001", "outletName: is required"),
        ({"dataId": ""}, "data-001", "dataId: is required"),
        ({"dataId": "x" * 256}, "data-003", "dataId: must be at most 255"),
        ({"colour": "red"}, "data-003", "colour"),
        ({"dataTypeId": None}, "data-001", "dataTypeId is required"),
        ({"hubId": None}, "data-001", "hubId is required"),
    ],
)
def test_create_record_rejects_bad_values(
    app_client: TestClient,
    auth: dict[str, str],
    setup: dict[str, str],
    over: dict[str, Any],
    code: str,
    words: str,
) -> None:
    r = app_client.post(f"{API}/data", json=_vendor_body(setup, **over), headers=auth)
    assert r.status_code == 400, r.text
    assert r.json()["failedCode"] == code
    assert words in r.json()["message"]


def test_every_failed_field_is_named(
    app_client: TestClient, auth: dict[str, str], setup: dict[str, str]
) -> None:
    body = _vendor_body(setup, outletHours="x", outletType="y", extra=1)
    r = app_client.post(f"{API}/data", json=body, headers=auth)
    message = r.json()["message"]
    assert "outletHours" in message and "outletType" in message and "extra" in message


def test_unknown_type_and_hub_are_404(
    app_client: TestClient, auth: dict[str, str], setup: dict[str, str]
) -> None:
    r = app_client.post(f"{API}/data", json=_vendor_body(setup, dataTypeId="f" * 24), headers=auth)
    assert r.status_code == 404 and r.json()["failedCode"] == "datatype-033"
    r = app_client.post(f"{API}/data", json=_vendor_body(setup, hubId="f" * 24), headers=auth)
    assert r.status_code == 404 and r.json()["failedCode"] == "hub-033"


def test_dataId_is_unique_per_hub_when_not_commonData(
    app_client: TestClient, auth: dict[str, str], setup: dict[str, str]
) -> None:
    assert app_client.post(f"{API}/data", json=_vendor_body(setup), headers=auth).status_code == 201
    r = app_client.post(f"{API}/data", json=_vendor_body(setup), headers=auth)
    assert r.status_code == 409 and r.json()["failedCode"] == "data-031"
    other_hub = _vendor_body(setup, hubId=setup["hub2"])
    assert app_client.post(f"{API}/data", json=other_hub, headers=auth).status_code == 201


def test_dataId_is_unique_per_organisation_when_commonData(
    app_client: TestClient, auth: dict[str, str], setup: dict[str, str]
) -> None:
    body = {"dataTypeId": setup["common"], "dataId": "B1"}
    r = app_client.post(f"{API}/data", json=body, headers=auth)
    assert r.status_code == 201, r.text
    assert "hubId" not in r.json()["data"]
    r = app_client.post(f"{API}/data", json={**body, "hubId": setup["hub2"]}, headers=auth)
    assert r.status_code == 409 and r.json()["failedCode"] == "data-031"


def test_limitUser_from_the_vendor_body_is_accepted(
    app_client: TestClient, auth: dict[str, str], setup: dict[str, str]
) -> None:
    body = {"dataTypeId": setup["common"], "dataId": "B2", "limitUser": None}
    assert app_client.post(f"{API}/data", json=body, headers=auth).status_code == 201


@pytest.mark.parametrize("slash", ["", "/"])
def test_list_records_filters_and_paginates(
    app_client: TestClient, auth: dict[str, str], setup: dict[str, str], slash: str
) -> None:
    for n in range(3):
        body = _vendor_body(setup, dataId=f"J{n}")
        assert app_client.post(f"{API}/data", json=body, headers=auth).status_code == 201
    body = _vendor_body(setup, dataId="B0", hubId=setup["hub2"])
    app_client.post(f"{API}/data", json=body, headers=auth)
    app_client.post(
        f"{API}/data", json={"dataTypeId": setup["common"], "dataId": "C"}, headers=auth
    )

    def listed(**params: Any) -> Any:
        r = app_client.get(f"{API}/data{slash}", params=params, headers=auth)
        assert r.status_code == 200, r.text
        return r.json()["data"]

    assert listed()["total"] == 5
    assert listed(dataTypeId=setup["perHub"])["total"] == 4
    assert {r["dataId"] for r in listed(hubId=setup["hub"])["data"]} == {"J0", "J1", "J2"}
    assert {r["dataId"] for r in listed(dataId="J1,B0")["data"]} == {"J1", "B0"}
    page = listed(limit=2, page=2)
    assert page["current_page"] == 2 and len(page["data"]) == 2 and page["last_page"] == 3
    newest = listed(limit=1)["data"][0]
    assert newest["dataId"] == "C" and newest["data_type"]["name"] == "Brand"
    r = app_client.get(f"{API}/data", params={"limit": "x"}, headers=auth)
    assert r.status_code == 400 and r.json()["failedCode"] == "data-003"


def test_unknown_record_is_404(app_client: TestClient, auth: dict[str, str]) -> None:
    r = app_client.get(f"{API}/data/{'e' * 24}", headers=auth)
    assert r.status_code == 404
    assert r.json() == {"status": False, "message": "Data not found", "failedCode": "data-033"}


def test_creating_records_needs_import(
    app_client: TestClient, setup: dict[str, str], token_for: Callable[..., str]
) -> None:
    for perms, status in (("export", 403), ("admin", 201), ("import", 201)):
        headers = {"Authorization": f"Bearer {token_for(perms=perms)}"}
        body = _vendor_body(setup, dataId=perms)
        r = app_client.post(f"{API}/data", json=body, headers=headers)
        assert r.status_code == status, (perms, r.text)
