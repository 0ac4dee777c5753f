"""Export configs: CRUD in the vendor's shapes, and exports that use one."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.exports.conftest import Exporter, Seeded, read_csv

ISO_MICRO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def _field(fid: str, title: str, **extra: Any) -> dict[str, Any]:
    return {"component": "input", "id": fid, "title": title, **extra}


def _body(seeded: Seeded, **changes: Any) -> dict[str, Any]:
    body = {
        "name": "Report Daily",
        "description": "Template for daily report",
        "collection": "task",
        "flowIds": [seeded.flow],
        "fields": [
            _field("_id", "Id", inputType="string", source="reservedKey", uniqueTitle="Id"),
            _field("title", "Judul"),
            _field("orderNumber", "Order Number", flowId=[seeded.flow], showAs="title"),
            _field("status", "Status"),
        ],
    }
    body.update(changes)
    return body


def _create(exporter: Exporter, body: dict[str, Any]) -> Any:
    return exporter.client.post("/api/v3/export-config", json=body, headers=exporter.auth)


def _created(exporter: Exporter, body: dict[str, Any]) -> dict[str, Any]:
    answer = _create(exporter, body)
    assert answer.status_code == 201, answer.text
    data: dict[str, Any] = answer.json()["data"]
    return data


def _refused(answer: Any, status: int, code: str, message: str | None = None) -> str:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["status"] is False and body["failedCode"] == code
    if message is not None:
        assert body["message"] == message
    return str(body["message"])


def test_create_read_update_delete(seeded: Seeded, exporter: Exporter) -> None:
    client, auth = exporter.client, exporter.auth
    answer = _create(exporter, _body(seeded))
    assert answer.status_code == 201
    created = answer.json()
    assert created["status"] is True and created["code"] == 201
    assert created["message"] == "Export Config has been added successfully."
    data = created["data"]
    assert list(data) == [
        "_id", "name", "description", "collection", "fields", "flowIds", "organizationId",
        "updatedTime", "createdTime",
    ]  # fmt: skip
    assert data["fields"] == _body(seeded)["fields"]  # every attribute kept as given
    assert data["organizationId"] == seeded.org and ISO_MICRO_Z.match(data["createdTime"])
    config_id = data["_id"]

    got = client.get(f"/api/v3/export-config/{config_id}", headers=auth).json()
    assert got == {"status": True, "code": 200, "message": "Success.", "data": data}

    change = _body(seeded, fields=[_field("title", "Title")], flowIds=[seeded.pickup])
    del change["name"]  # a PUT without a name keeps it
    for path in (f"/api/v3/export-config/{config_id}/", f"/api/v3/export-config/{config_id}"):
        updated = client.put(path, json=change, headers=auth)
        assert updated.status_code == 200, updated.text
    body = updated.json()
    assert body["code"] == 200
    assert body["message"] == "Export Config has been updated successfully."
    assert body["data"]["name"] == "Report Daily" and body["data"]["flowIds"] == [seeded.pickup]
    assert body["data"]["fields"] == [_field("title", "Title")]

    deleted = client.delete(f"/api/v3/export-config/{config_id}/", headers=auth)
    assert deleted.status_code == 200
    assert deleted.json()["message"] == "Export Config has been deleted successfully."
    assert deleted.json()["data"]["_id"] == config_id
    missing = client.get(f"/api/v3/export-config/{config_id}", headers=auth)
    _refused(missing, 404, "export-033", "Data not found")
    _refused(client.delete(f"/api/v3/export-config/{config_id}", headers=auth), 404, "export-033")
    _refused(
        client.put(f"/api/v3/export-config/{config_id}/", json=change, headers=auth),
        404,
        "export-033",
    )


def test_list(seeded: Seeded, exporter: Exporter) -> None:
    for name in ("Daily", "Weekly", "Monthly"):
        _created(exporter, _body(seeded, name=name))
    _created(
        exporter,
        _body(seeded, name="Outlets", collection="data", flowIds=[], dataTypeId=seeded.outlet),
    )
    answer = exporter.client.get(
        "/api/v3/export-configs", params={"limit": 2}, headers=exporter.auth
    ).json()
    assert answer["status"] is True and answer["code"] == 200 and answer["message"] == "Success."
    page = answer["data"]
    assert page["total"] == 4 and page["per_page"] == 2 and page["last_page"] == 2
    assert [c["name"] for c in page["data"]] == ["Outlets", "Monthly"]  # newest first
    assert page["next_page_url"].endswith("limit=2&page=2")
    tasks_only = exporter.client.get(
        "/api/v3/export-configs",
        params={"collection": "task", "sortOrder": "asc"},
        headers=exporter.auth,
    ).json()["data"]["data"]
    assert [c["name"] for c in tasks_only] == ["Daily", "Weekly", "Monthly"]
    named = exporter.client.get(
        "/api/v3/export-configs", params={"name": "LY"}, headers=exporter.auth
    ).json()["data"]["data"]
    assert sorted(c["name"] for c in named) == ["Daily", "Monthly", "Weekly"]
    outlets = exporter.client.get(
        "/api/v3/export-configs", params={"collection": "data"}, headers=exporter.auth
    ).json()["data"]["data"]
    assert outlets[0]["dataTypeId"] == seeded.outlet


@pytest.mark.parametrize(
    ("change", "code", "message"),
    [
        ({"name": None}, "export-001", "The name field is required."),
        ({"collection": None}, "export-001", "The collection field is required."),
        ({"collection": "invoice"}, "export-017", None),
        ({"flowIds": []}, "export-001", "The flowIds field is required."),
        ({"flowIds": ["6650a0a0a0a0a0a0a0a0a0a0"]}, "export-033", None),
        ({"flowIds": "abc"}, "export-003", None),
        ({"fields": []}, "export-001", "The fields field is required."),
        ({"fields": [{"id": "title"}]}, "export-001", "The fields.0.component field is required."),
        ({"fields": ["title"]}, "export-003", None),
        ({"name": 5}, "export-003", None),
        ({"dataTypeId": "6650a0a0a0a0a0a0a0a0a0a0"}, "export-033", None),
    ],
)
def test_bad_config(
    seeded: Seeded, exporter: Exporter, change: dict[str, Any], code: str, message: str | None
) -> None:
    _refused(_create(exporter, _body(seeded, **change)), 400, code, message)


def test_name_is_unique_per_organisation(
    seeded: Seeded, exporter: Exporter, token_for: Any
) -> None:
    _created(exporter, _body(seeded))
    again = _create(exporter, _body(seeded))
    _refused(again, 400, "export-002", "The name has already been taken.")
    other = {"Authorization": f"Bearer {token_for('globex', 'x@globex.test')}"}
    body = _body(seeded, flowIds=[])
    body["collection"] = "data"
    answer = exporter.client.post("/api/v3/export-config", json=body, headers=other)
    assert answer.status_code == 201
    # and another organisation never sees this one
    theirs = answer.json()["data"]["_id"]
    _refused(
        exporter.client.get(f"/api/v3/export-config/{theirs}", headers=exporter.auth),
        404,
        "export-033",
    )


def test_body_must_be_an_object(seeded: Seeded, exporter: Exporter) -> None:
    answer = exporter.client.post("/api/v3/export-config", json=[1], headers=exporter.auth)
    _refused(answer, 400, "export-003")
    answer = exporter.client.post(
        "/api/v3/export-config",
        content=b"{",
        headers={**exporter.auth, "content-type": "application/json"},
    )
    _refused(answer, 400, "export-003")


def test_permission(seeded: Seeded, exporter: Exporter, token_for: Any) -> None:
    headers = {"Authorization": f"Bearer {token_for(perms='import')}"}
    answer = exporter.client.get("/api/v3/export-configs", headers=headers)
    _refused(answer, 403, "auth-003", "You do not have permission to manage export configs")


def test_export_with_a_config(seeded: Seeded, exporter: Exporter) -> None:
    config = _created(exporter, _body(seeded))
    body = exporter.ok("task", download="csv", exportConfigId=config["_id"], fields="doneBy")
    assert body["last_field"] == "status"
    rows = read_csv(exporter.download(body["data"]["link"]))
    # the config's fields (and titles) replace `fields`; its flows filter the tasks
    assert rows[0] == ["Id", "Judul", "Order Number", "Status"]
    assert [r[1] for r in rows[1:]] == ["Task 2", "Task 1", "Task 0"]
    assert rows[1][2] == "00042"


def test_config_flows_intersect_the_request(seeded: Seeded, exporter: Exporter) -> None:
    config = _created(exporter, _body(seeded, flowIds=[seeded.flow, seeded.pickup]))
    body = exporter.ok("task", download="csv", exportConfigId=config["_id"], flowId=seeded.pickup)
    assert [r[1] for r in read_csv(exporter.download(body["data"]["link"]))[1:]] == ["Task 3"]
    narrow = _created(exporter, _body(seeded, name="Narrow", fields=[_field("title", "T")]))
    body = exporter.ok("task", download="csv", exportConfigId=narrow["_id"], flowId=seeded.pickup)
    assert body["total_data_be"] == 0  # nothing is in both


def test_config_fields_of_other_flows_stay_columns_when_the_request_narrows_flows(
    seeded: Seeded, exporter: Exporter
) -> None:
    """A config over two flows names a field only one of them has (as the vendor's own
    example does); narrowed to the other flow, that field is an empty column, not a 400."""
    fields = [_field("title", "Title"), _field("weight", "Weight", flowId=[seeded.flow])]
    config = _created(exporter, _body(seeded, flowIds=[seeded.flow, seeded.pickup], fields=fields))
    body = exporter.ok("task", download="csv", exportConfigId=config["_id"], flowId=seeded.pickup)
    assert read_csv(exporter.download(body["data"]["link"])) == [
        ["Title", "Weight"],
        ["Task 3", ""],
    ]
    body = exporter.ok("task", download="csv", exportConfigId=config["_id"], flowId=seeded.flow)
    rows = read_csv(exporter.download(body["data"]["link"]))
    assert [r[1] for r in rows[1:]] == ["", "10", "2.5"]  # newest first; Task 2 has none
    # without a config, a field none of the requested flows has is still refused
    answer = exporter.tasks(download="csv", fields="title,weight", flowId=seeded.pickup)
    _refused(answer, 400, "export-003", "Unknown field: weight")


def test_config_field_no_longer_known(seeded: Seeded, exporter: Exporter) -> None:
    config = _created(exporter, _body(seeded, fields=[_field("billItem", "Bill Item")]))
    answer = exporter.tasks(download="xlsx", exportConfigId=config["_id"])
    _refused(answer, 400, "export-003", "Unknown field: billItem")


def test_data_export_with_a_config(seeded: Seeded, exporter: Exporter) -> None:
    config = _created(
        exporter,
        _body(
            seeded,
            collection="data",
            flowIds=[],
            dataTypeId=seeded.outlet,
            fields=[_field("dataId", "Code"), _field("creditLimit", "Limit")],
        ),
    )
    body = exporter.ok("data", download="csv", exportConfigId=config["_id"], sortBy="dataId")
    rows = read_csv(exporter.download(body["data"]["link"]))
    assert rows[0] == ["Code", "Limit"] and rows[1] == ["A-5", "10"]
    task_config = _created(exporter, _body(seeded, name="Tasks"))
    answer = exporter.data(download="csv", exportConfigId=task_config["_id"])
    assert "task" in _refused(answer, 400, "export-003")
