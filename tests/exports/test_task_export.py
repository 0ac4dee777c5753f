"""`POST /tasks/export`: the JSON body, filters, errors, formats."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from tests.exports.conftest import Exporter, Seeded, read_csv, read_xlsx, read_zip

TASK_HEADERS = [
    "ID", "Title", "Flow", "Flow ID", "Hub", "Hub ID", "Status", "Assignee", "Start Time",
    "End Time", "Done By", "Done Time", "Created By", "Created Time", "Updated Time",
]  # fmt: skip


def _refused(answer: Any, status: int, code: str, message: str | None = None) -> str:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["status"] is False and body["failedCode"] == code
    if message is not None:
        assert body["message"] == message
    return str(body["message"])


def _titles(exporter: Exporter, **body: Any) -> list[str]:
    answer = exporter.ok("task", download="json", **body)
    _, records = read_zip(exporter.download(answer["data"]["link"]))
    return [r["title"] for r in records]


def test_xlsx_columns_and_values(seeded: Seeded, exporter: Exporter) -> None:
    body = exporter.ok("task", download="xlsx")
    assert body["total_data_be"] == 4
    assert body["last_id"] == seeded.tasks[0]
    assert body["last_field"] == "boxes"
    assert body["data"]["reportType"] == "task"
    rows = read_xlsx(exporter.download(body["data"]["link"]))
    # Flow fields after the reserved ones, titled by the first flow that defines them.
    assert rows[0] == [*TASK_HEADERS, "Order Number", "Weight", "Boxes"]
    oldest = rows[-1]
    assert oldest[:8] == [
        seeded.tasks[0], "Task 0", "Delivery", seeded.flow, "Jakarta", seeded.hub, "DONE",
        "a@acme.test",
    ]  # fmt: skip
    assert oldest[8] == datetime(2024, 5, 1, 8, 0) and oldest[9] == ""
    assert oldest[10] == "Leandro" and oldest[11] == datetime(2024, 5, 1, 8, 5)
    assert oldest[12:15] == ["ops@acme.test", datetime(2024, 5, 1, 8), datetime(2024, 5, 1, 8)]
    assert oldest[15:] == ["SO-001", 2.5, ""]
    assert rows[1][2] == "Pickup" and rows[1][4:6] == ["", ""] and rows[1][-1] == 4
    assert rows[2][15] == "00042"  # leading zeros kept
    assert rows[3][15] == "=cmd"  # text, not a formula


def test_csv(seeded: Seeded, exporter: Exporter) -> None:
    body = exporter.ok("task", download="csv", fields="title,orderNumber,weight,startTime")
    rows = read_csv(exporter.download(body["data"]["link"]))
    assert rows == [
        ["Title", "Order Number", "Weight", "Start Time"],
        ["Task 3", "P-1", "", "2024-05-01 11:00:00"],
        ["Task 2", "00042", "", "2024-05-01 10:00:00"],
        ["Task 1", "'=cmd", "10", "2024-05-01 09:00:00"],
        ["Task 0", "SO-001", "2.5", "2024-05-01 08:00:00"],
    ]


def test_json(seeded: Seeded, exporter: Exporter) -> None:
    body = exporter.ok("task", download="json", flowId=seeded.flow, sortOrder="asc")
    _, records = read_zip(exporter.download(body["data"]["link"]))
    assert list(records[0]) == [
        "_id", "title", "flow", "flowId", "hub", "hubId", "status", "assignee", "startTime",
        "endTime", "doneBy", "doneTime", "createdBy", "createdTime", "updatedTime",
        "orderNumber", "weight",
    ]  # fmt: skip
    assert records[0]["doneTime"] == "2024-05-01 08:05:00" and records[0]["endTime"] is None
    assert [r["weight"] for r in records] == [2.5, 10, None]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"status": "DONE"}, ["Task 3", "Task 0"]),
        ({"status": "ONGOING,UNASSIGNED"}, ["Task 2", "Task 1"]),
        ({"assignee": "A@ACME.test"}, ["Task 3", "Task 0"]),
        ({"doneBy": "leandro"}, ["Task 3", "Task 0"]),
        ({"hubId": "HUB"}, ["Task 2", "Task 1", "Task 0"]),
        ({"flowId": "PICKUP"}, ["Task 3"]),
        ({"flowId": "FLOW,PICKUP", "status": "DONE"}, ["Task 3", "Task 0"]),
        ({"sortBy": "weight", "sortOrder": "desc"}, ["Task 1", "Task 0", "Task 3", "Task 2"]),
        ({"sortBy": "flow", "sortOrder": "desc"}, ["Task 3", "Task 2", "Task 1", "Task 0"]),
        ({"sortBy": "doneTime", "sortOrder": "asc"}, ["Task 0", "Task 3", "Task 1", "Task 2"]),
        ({"sortBy": "title", "sortOrder": "asc", "limit": 2, "page": 2}, ["Task 2", "Task 3"]),
    ],
)
def test_filters_and_order(
    seeded: Seeded, exporter: Exporter, body: dict[str, Any], expected: list[str]
) -> None:
    names = {"HUB": seeded.hub, "FLOW": seeded.flow, "PICKUP": seeded.pickup}
    body = dict(body)  # the parameter is shared by both engines' runs
    for key in ("hubId", "flowId"):
        if key in body:
            body[key] = ",".join(names[p] for p in body[key].split(","))
    titles = _titles(exporter, **body)
    by_id = dict(zip(seeded.tasks, ["Task 0", "Task 1", "Task 2", "Task 3"], strict=True))
    if body.get("sortBy") == "doneTime":  # NULL done times last, tied by _id (asc)
        expected = expected[:2] + [by_id[i] for i in sorted(seeded.tasks[1:3])]
    if body.get("sortBy") == "weight":  # no weight: NULLs last, tied by _id (desc)
        expected = expected[:2] + [by_id[i] for i in sorted(seeded.tasks[2:], reverse=True)]
    if body.get("sortBy") == "flow":  # the Delivery tasks tie, broken by _id (desc)
        expected = expected[:1] + [by_id[i] for i in sorted(seeded.tasks[:3], reverse=True)]
    assert titles == expected


def test_flow_fields_follow_the_chosen_flows(seeded: Seeded, exporter: Exporter) -> None:
    body = exporter.ok("task", download="csv", flowId=seeded.pickup)
    rows = read_csv(exporter.download(body["data"]["link"]))
    assert rows[0][-2:] == ["Pickup Order", "Boxes"]
    answer = exporter.tasks(download="csv", flowId=seeded.pickup, fields="weight")
    _refused(answer, 400, "export-003", "Unknown field: weight")


def test_download_field_is_required(seeded: Seeded, exporter: Exporter) -> None:
    _refused(exporter.tasks(), 400, "export-001", "The download field is required.")
    answer = exporter.client.post("/api/v3/tasks/export", headers=exporter.auth)
    _refused(answer, 400, "export-001", "The download field is required.")


@pytest.mark.parametrize(
    ("body", "code", "named"),
    [
        ({"download": "pdf"}, "export-017", "download"),
        ({"download": "xlsx", "status": "LOST"}, "export-017", "LOST"),
        ({"download": "xlsx", "sortOrder": "sideways"}, "export-017", "sortOrder"),
        ({"download": "xlsx", "sortBy": "colour"}, "export-003", "colour"),
        ({"download": "xlsx", "fields": "title,colour"}, "export-003", "colour"),
        ({"download": "xlsx", "page": "two"}, "export-003", "page"),
        ({"download": "xlsx", "limit": 0}, "export-003", "limit"),
        ({"download": "xlsx", "limit": True}, "export-003", "limit"),
        ({"download": "xlsx", "background": "yes please"}, "export-003", "background"),
        ({"download": ["xlsx"]}, "export-003", "download"),
        ({"download": "xlsx", "flowId": "6650a0a0a0a0a0a0a0a0a0a0"}, "export-033", "flowId"),
        ({"download": "xlsx", "hubId": "6650a0a0a0a0a0a0a0a0a0a0"}, "export-033", "hubId"),
        (
            {"download": "xlsx", "exportConfigId": "6650a0a0a0a0a0a0a0a0a0a0"},
            "export-033",
            "exportConfigId",
        ),
    ],
)
def test_bad_requests(
    seeded: Seeded, exporter: Exporter, body: dict[str, Any], code: str, named: str
) -> None:
    assert named in _refused(exporter.tasks(**body), 400, code)


def test_numbers_as_strings_are_accepted(seeded: Seeded, exporter: Exporter) -> None:
    body = exporter.ok("task", download="csv", page="1", limit="2", background="false")
    assert body["total_data_be"] == 2


def test_body_must_be_a_json_object(seeded: Seeded, exporter: Exporter) -> None:
    answer = exporter.client.post("/api/v3/tasks/export", content=b"{nope", headers=exporter.auth)
    _refused(answer, 400, "export-003")
    answer = exporter.client.post("/api/v3/tasks/export", json=["xlsx"], headers=exporter.auth)
    _refused(answer, 400, "export-003")


def test_permission(seeded: Seeded, exporter: Exporter, token_for: Any) -> None:
    reader = {"Authorization": f"Bearer {token_for(perms='import')}"}
    answer = exporter.tasks(download="xlsx", headers=reader)
    _refused(answer, 403, "auth-003", "You do not have permission to export tasks")


def test_background_answer(seeded: Seeded, exporter: Exporter) -> None:
    body = exporter.ok("task", download="xlsx", background=True)
    assert body == {
        "status": True,
        "message": "Export queued for background processing. Check status at GET /tasks/export-log",
        "total_data_be": 0,
        "data": {
            "time": body["data"]["time"],
            "organizationId": seeded.org,
            "reportType": "task",
            "status": "Processing",
            "_id": body["data"]["_id"],
        },
    }


def test_empty_export_is_a_file_too(seeded: Seeded, exporter: Exporter) -> None:
    body = exporter.ok(
        "task", download="xlsx", status="DONE", flowId=seeded.flow, hubId=seeded.hub2
    )
    assert body["total_data_be"] == 0 and "last_id" not in body
    assert read_xlsx(exporter.download(body["data"]["link"])) == [
        [*TASK_HEADERS, "Order Number", "Weight"]
    ]
