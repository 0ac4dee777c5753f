"""The import template: what it holds, and that a filled-in template imports as written."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from python_calamine import CalamineWorkbook

from loadbay.catalog.models import Record, Task
from loadbay.db import Database
from loadbay.tabular.xlsx_writer import XlsxWriter
from tests.imports.conftest import csv_bytes

OUTLET_HEADERS = [
    "Outlet Code *",
    "Name *",
    "Phone",
    "Email",
    "Category",
    "Location",
    "Open Since",
    "Last Visit",
    "Credit Limit",
    "Visits",
    "Active",
]


def _template(app_client: Any, record: dict[str, Any]) -> CalamineWorkbook:
    link = record["fileTemplate"]
    response = app_client.get(link.split("127.0.0.1:8000", 1)[1])
    assert response.status_code == 200, response.text
    return CalamineWorkbook.from_filelike(io.BytesIO(response.content))


def test_the_template_lists_headers_in_order_and_describes_each_field(
    upload, monitoring, app_client
) -> None:
    record = monitoring(
        upload(csv_bytes([["Outlet Code", "Name"], ["1", "a"]])).json()["data"]["_id"]
    )
    book = _template(app_client, record)
    assert book.sheet_names == ["Outlet", "Fields"]
    assert book.get_sheet_by_name("Outlet").to_python() == [OUTLET_HEADERS]
    fields = book.get_sheet_by_name("Fields").to_python()
    assert fields[0] == ["Column", "Field id", "Type", "Required", "Allowed values"]
    described = {row[1]: row for row in fields[1:]}
    assert list(described) == [
        "dataId", "name", "phone", "email", "category", "location",
        "openSince", "lastVisit", "creditLimit", "visits", "active",
    ]  # fmt: skip
    assert described["dataId"] == ["Outlet Code *", "dataId", "text", "yes", ""]
    assert described["name"][3] == "yes" and described["phone"][3] == "no"
    assert described["category"] == [
        "Category",
        "category",
        "one of the options",
        "no",
        "Retail, Wholesale",
    ]
    assert described["openSince"][2] == "date, YYYY-MM-DD"
    assert described["location"][2] == "latitude,longitude"


def _fill(path: Path, sheet: str, headers: list[str], rows: list[list[Any]]) -> bytes:
    with XlsxWriter(path) as book:
        book.add_sheet(sheet, headers)
        book.write_rows(rows)
    return path.read_bytes()


def test_a_filled_template_imports_with_the_values_written(
    upload, monitoring, app_client, db: Database, tmp_path: Path
) -> None:
    first = upload(csv_bytes([["Outlet Code", "Name"], ["seed", "seed"]]))
    book = _template(app_client, monitoring(first.json()["data"]["_id"]))
    headers = [str(h) for h in book.get_sheet_by_name("Outlet").to_python()[0]]
    content = _fill(
        tmp_path / "filled.xlsx",
        "Outlet",
        headers,
        [
            [
                "007",
                "Toko Satu",
                "081234567890",
                "toko@satu.id",
                "Wholesale",
                "-6.2,106.8",
                dt.date(2024, 1, 31),
                dt.datetime(2024, 2, 1, 8, 30),
                1500.5,
                3,
                True,
            ],
            ["198000000000000001", "Toko Dua", None, None, "retail", None, None, None, 0, 0, False],
            ["009", None, "abc", None, None, None, None, None, None, None, None],
        ],
    )
    job = monitoring(upload(content, filename="filled.xlsx").json()["data"]["_id"])
    assert (job["totalRows"], job["totalValid"], job["totalInvalid"]) == (3, 2, 1)
    assert job["fileFailedImported"].split("?")[0].endswith(".xlsx")
    with db.read() as session:
        saved = {r.data_id: r.data for r in session.scalars(sa.select(Record))}
    assert set(saved) == {"seed", "007", "198000000000000001"}
    assert saved["007"] == {
        "dataId": "007",
        "name": "Toko Satu",
        "phone": "081234567890",
        "email": "toko@satu.id",
        "category": "Wholesale",
        "location": saved["007"]["location"],
        "openSince": "2024-01-31",
        "lastVisit": "2024-02-01T08:30:00",
        "creditLimit": 1500.5,
        "visits": 3,
        "active": True,
    }
    assert saved["007"]["location"].replace(" ", "") == "-6.2,106.8"
    assert saved["198000000000000001"]["category"] == "Retail"
    assert saved["198000000000000001"]["active"] is False


def test_a_flow_template_round_trip(upload, monitoring, app_client, catalog, db, tmp_path) -> None:
    seed = upload(
        csv_bytes([["Order Number"], ["SO-0"]]), filename="t.csv", path="/api/v3/tasks/import"
    )
    book = _template(app_client, monitoring(seed.json()["data"]["_id"]))
    headers = [str(h) for h in book.get_sheet_by_name("Delivery").to_python()[0]]
    assert headers[:3] == ["Title", "Status", "Assignee"]
    assert headers[-2:] == ["Order Number *", "Weight"]
    row: list[Any] = [None] * len(headers)
    row[headers.index("Title")] = "Drop 1"
    row[headers.index("Status")] = "ongoing"
    row[headers.index("Start Time")] = dt.datetime(2024, 5, 1, 9, 0)
    row[headers.index("Order Number *")] = "SO-001"
    row[headers.index("Weight")] = 12.5
    content = _fill(tmp_path / "tasks.xlsx", "Delivery", headers, [row])
    job = monitoring(
        upload(
            content, filename="tasks.xlsx", path="/api/v3/tasks/import", hubId=catalog["hub"]
        ).json()["data"]["_id"]
    )
    assert job["status"] == "success" and job["totalValid"] == 1
    with db.read() as session:
        task = session.scalars(sa.select(Task).where(Task.title == "Drop 1")).one()
    assert task.status == "ONGOING" and task.data == {"orderNumber": "SO-001", "weight": 12.5}
    assert task.start_time == dt.datetime(2024, 5, 1, 9, 0)


def test_a_type_name_excel_refuses_as_a_sheet_name_still_gets_a_template(db, org_id) -> None:
    from python_calamine import CalamineWorkbook

    from loadbay.catalog.fields import FieldSpec
    from loadbay.imports.target import Target
    from loadbay.imports.template import ensure_template
    from loadbay.storage import get_storage

    for name in ("Outlets: North/South [2024]", "Fields", "History"):
        target = Target(
            "datasource", "0" * 24, name, (FieldSpec("dataId", "Data ID", "string", True, True),)
        )
        with get_storage().local_copy(ensure_template(org_id, target)) as path:
            sheets = CalamineWorkbook.from_path(str(path)).sheet_names
        assert sheets[1] == "Fields"
        assert sheets[0] not in ("Fields", "History")
        assert not set(sheets[0]) & set("/:[]")


def test_the_template_route_links_the_same_template_without_an_import(
    app_client, auth, catalog
) -> None:
    answer = app_client.get(
        "/api/v3/import-template", params={"dataTypeId": catalog["outlet"]}, headers=auth
    )
    assert answer.status_code == 200, answer.text
    book = _template(app_client, answer.json()["data"])
    assert book.get_sheet_by_name("Outlet").to_python() == [OUTLET_HEADERS]
    flow = app_client.get(
        "/api/v3/import-template", params={"flowId": catalog["flow"]}, headers=auth
    ).json()["data"]
    assert flow["type"] == "task" and flow["filename"] == "Delivery template.xlsx"
    both = app_client.get(
        "/api/v3/import-template",
        params={"dataTypeId": catalog["outlet"], "flowId": catalog["flow"]},
        headers=auth,
    )
    assert both.status_code == 400 and both.json()["failedCode"] == "import-001"
    unknown = app_client.get("/api/v3/import-template", params={"flowId": "x"}, headers=auth)
    assert unknown.status_code == 404 and unknown.json()["failedCode"] == "import-033"


def test_a_template_that_cannot_be_stored_is_logged_and_the_record_still_shows(
    upload, monitoring, db, org_id, catalog, caplog
) -> None:
    import logging

    from loadbay.catalog.models import DataType
    from loadbay.imports.target import load_target
    from loadbay.imports.template import template_key
    from loadbay.storage import LocalStorage, get_storage

    job_id = upload(csv_bytes([["Outlet Code", "Name"], ["1", "a"]])).json()["data"]["_id"]
    # The schema changes, so the next record needs a new template; a folder where that
    # template's file should go makes storing it fail the way a broken disk would.
    with db.write() as session:
        outlet = session.get(DataType, catalog["outlet"])
        assert outlet is not None
        outlet.fields = [*outlet.fields, {"id": "note", "title": "Note", "type": "string"}]
    with db.read() as session:
        key = template_key(org_id, load_target(session, org_id, "datasource", catalog["outlet"]))
    storage = get_storage()
    assert isinstance(storage, LocalStorage)
    (storage.path(key) / "blocked").mkdir(parents=True)
    with caplog.at_level(logging.ERROR, logger="loadbay.imports"):
        record = monitoring(job_id)
    assert "fileTemplate" not in record and record["status"] == "success"
    failure = next(r for r in caplog.records if r.getMessage() == "import template not made")
    assert failure.exc_info is not None and failure.job == job_id  # type: ignore[attr-defined]
