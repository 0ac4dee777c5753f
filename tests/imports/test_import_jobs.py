"""The import-job view: preview, suggested mapping, confirm, poll, cancel — on every engine."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from loadbay import queue
from loadbay.auth import Principal
from loadbay.catalog.models import Record
from loadbay.db import Database
from loadbay.imports import jobs, jobs_routes
from loadbay.imports.models import ImportJob
from tests.imports.conftest import csv_bytes

API = "/api/v3"
Starter = Callable[..., Any]
VIEW_FIELDS = [
    "code", "status", "fileName", "totalItems", "processedItems", "createdCount",
    "updatedCount", "skippedCount", "errorCount", "startedDate", "completedDate",
    "createdDate", "notImportedDownloadUrl", "ignoredColumns", "headerRow", "rowsAboveHeader",
    "failedRowsXlsxUrl",  # DECISIONS (wave 2), beside the vendor's fields
]  # fmt: skip


@pytest.fixture
def start(app_client: TestClient, auth: dict[str, str], catalog: dict[str, str]) -> Starter:
    """POST a file to /import-jobs (an outlet import unless the form says otherwise)."""

    def _start(
        content: bytes,
        filename: str = "outlets.csv",
        *,
        headers: dict[str, str] | None = None,
        **form: str,
    ) -> Any:
        data = dict(form)
        if "flowId" not in data:
            data.setdefault("dataTypeId", catalog["outlet"])
            data.setdefault("hubId", catalog["hub"])
        return app_client.post(
            f"{API}/import-jobs",
            headers=headers or auth,
            data=data,
            files={"file": (filename, content)},
        )

    return _start


@pytest.fixture
def other(token_for: Callable[..., str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for('other-org', 'x@other.test')}"}


def records(db: Database) -> dict[str, dict[str, Any]]:
    with db.read() as session:
        return {r.data_id: r.data for r in session.scalars(sa.select(Record))}


def preview_code(start: Starter, rows: list[list[Any]], **form: str) -> str:
    response = start(csv_bytes(rows), **form)
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["code"])


def test_preview_answers_the_exact_shape_and_stays_hidden_from_monitoring(
    start, app_client, auth
) -> None:
    content = csv_bytes(
        [
            ["Outlet Code", "Name", "Phone", "e-mail", "CATEGORY", "Notes"],
            ["007", "Toko Satu", "0812", "a@b.co", "retail", "x"],
            ["008", "", "abc", "bad", "Other", ""],
            ["", "", "", "", "", ""],
        ]
        + [[f"1{n:02d}", f"Shop {n}", "", "", "", ""] for n in range(12)]
    )
    response = start(content)
    assert response.status_code == 201, response.text
    body = response.json()
    code = body["data"]["code"]
    # fmt: off
    assert body == {
        "status": True,
        "message": "Success",
        "data": {
            "code": code,
            "hasHeaderRow": True,
            "headers": ["Outlet Code", "Name", "Phone", "e-mail", "CATEGORY", "Notes"],
            "totalRows": 14,
            "previewRows": [
                {"rowNumber": 2, "errors": [], "values": {
                    "dataId": "007", "name": "Toko Satu", "phone": "0812", "email": "a@b.co",
                    "category": "Retail",
                }},
                {"rowNumber": 3, "values": {"dataId": "008"}, "errors": [
                    {"column": "Name", "message": "Name is required"},
                    {"column": "Phone", "message": "Phone: 'abc' is not a phone number"},
                    {"column": "e-mail", "message": "e-mail: 'bad' is not an e-mail address"},
                    {"column": "CATEGORY",
                     "message": "CATEGORY: 'Other' is not one of: Retail, Wholesale"},
                ]},
                *({"rowNumber": 5 + n, "errors": [], "values": {
                    "dataId": f"1{n:02d}", "name": f"Shop {n}", "phone": None, "email": None,
                    "category": None,
                }} for n in range(8)),  # the blank row 4 is skipped; ten rows in all
            ],
            "suggestedMapping": [
                {"id": "dataId", "headerColumn": "Outlet Code"},
                {"id": "name", "headerColumn": "Name"},
                {"id": "phone", "headerColumn": "Phone"},
                {"id": "email", "headerColumn": "e-mail"},
                {"id": "category", "headerColumn": "CATEGORY"},
            ],
            # The file's structure and where every column goes (DECISIONS, Import jobs).
            "sheets": [],  # a CSV has none
            "sheet": None,
            "headerRow": 1,
            "rowsAboveHeader": 0,
            "rawRows": [
                ["Outlet Code", "Name", "Phone", "e-mail", "CATEGORY", "Notes"],
                ["007", "Toko Satu", "0812", "a@b.co", "retail", "x"],
                ["008", "", "abc", "bad", "Other"],
                [],
                *([f"1{n:02d}", f"Shop {n}"] for n in range(12)),
            ],
            "unmappedColumns": ["Notes"],
            "ignoredColumns": ["Notes"],
            "missingRequiredFields": [],
            "suggestionSources": {
                "Outlet Code": "exact", "Name": "exact", "Phone": "exact",
                "e-mail": "normalised", "CATEGORY": "normalised",
            },
            # The whole file, checked in the background (immediate queue in tests).
            "validation": {
                "status": "Done", "processedRows": 14, "totalRows": 14, "valid": 13,
                "invalid": 1, "discarded": 0, "warnings": 1,
                "forecast": {"create": 13, "update": 0, "skip": 0},
                "errors": [
                    {"column": c, "field": f, "code": k, "reason": r, "count": 1, "firstRows": [3]}
                    for c, f, k, r in [
                        ("CATEGORY", "category", "option", "not one of the options"),
                        ("Name", "name", "required", "required value missing"),
                        ("Phone", "phone", "invalid_phone", "not a valid phone"),
                        ("e-mail", "email", "invalid_email", "not a valid email"),
                    ]
                ],
            },
            "valueMap": {},
            "locale": None,
        },
    }
    # fmt: on
    assert app_client.get(f"{API}/import-monitoring", headers=auth).json()["data"]["total"] == 0
    hidden = app_client.get(f"{API}/import-monitoring/{code}", headers=auth)
    assert hidden.status_code == 404 and hidden.json()["failedCode"] == "import-004"
    view = app_client.get(f"{API}/import-jobs/{code}", headers=auth).json()["data"]
    assert view["status"] == "Queued" and view["fileName"] == "outlets.csv"


def test_suggested_mapping_matches_case_punctuation_closeness_and_history(start, app_client, auth):
    headers = ["OUTLET CODE", "name", "E-Mail", "Credit Limt", "last_visit", "Kode Pos"]
    first = start(csv_bytes([headers, ["1", "a", "", "", "", ""]])).json()["data"]
    assert first["suggestedMapping"] == [  # in the data type's field order
        {"id": "dataId", "headerColumn": "OUTLET CODE"},  # title, any case
        {"id": "name", "headerColumn": "name"},  # id
        {"id": "email", "headerColumn": "E-Mail"},  # punctuation ignored
        {"id": "lastVisit", "headerColumn": "last_visit"},
        {"id": "creditLimit", "headerColumn": "Credit Limt"},  # close enough
    ]

    # Headers nothing matches by name: mapped by hand once, suggested from then on.
    local = [["Kode", "Nama Toko", "Telepon"], ["K1", "Toko", "0812"]]
    code = preview_code(start, local)
    assert start(csv_bytes(local)).json()["data"]["suggestedMapping"] == []
    mapping = [
        {"id": "dataId", "headerColumn": "Kode"},
        {"id": "name", "headerColumn": "Nama Toko"},
        {"id": "phone", "headerColumn": "Telepon"},
    ]
    confirmed = app_client.put(f"{API}/import-jobs/{code}", headers=auth, json={"mapping": mapping})
    assert confirmed.status_code == 201, confirmed.text
    again = start(csv_bytes([["Telepon", "Kode", "Nama Toko", "Email"], ["1", "2", "3", ""]]))
    assert again.json()["data"]["suggestedMapping"] == [
        {"id": "dataId", "headerColumn": "Kode"},
        {"id": "name", "headerColumn": "Nama Toko"},
        {"id": "phone", "headerColumn": "Telepon"},
        {"id": "email", "headerColumn": "Email"},
    ]
    assert again.json()["data"]["previewRows"][0]["values"]["name"] == "3"


def test_confirm_answers_201_with_the_finished_job_and_a_second_confirm_409(
    start, app_client, auth, db, monitoring
) -> None:
    code = preview_code(
        start, [["Outlet Code", "Name"], ["A1", "one"], ["A2", ""], ["A3", "three"]]
    )
    response = app_client.put(f"{API}/import-jobs/{code}", headers=auth, json={})
    assert response.status_code == 201, response.text
    view = response.json()["data"]
    assert set(view) == set(VIEW_FIELDS)  # every CsvImportJobDto field, once finished
    assert view["code"] == code and view["status"] == "Completed"
    assert (view["totalItems"], view["processedItems"]) == (3, 3)
    assert (view["createdCount"], view["updatedCount"], view["skippedCount"]) == (2, 0, 0)
    assert view["errorCount"] == 1
    assert view["completedDate"].endswith("Z") and view["createdDate"].endswith("Z")
    link = view["notImportedDownloadUrl"]
    text = app_client.get(link.split("127.0.0.1:8000", 1)[1]).content.decode("utf-8-sig")
    assert "A2" in text and "Name is required" in text
    assert set(records(db)) == {"A1", "A3"}
    assert monitoring(code)["status"] == "partially"  # confirmed: now in monitoring
    again = app_client.get(f"{API}/import-jobs/{code}", headers=auth).json()["data"]
    links = ("notImportedDownloadUrl", "failedRowsXlsxUrl")  # signed afresh on each read
    link_free = {k: v for k, v in view.items() if k not in links}
    assert {k: v for k, v in again.items() if k not in links} == link_free

    twice = app_client.put(f"{API}/import-jobs/{code}", headers=auth, json={})
    assert twice.status_code == 409 and twice.json()["failedCode"] == "import-032"
    assert twice.json()["status"] is False


def test_confirm_with_a_mapping_mode_and_match_field(start, app_client, auth, db) -> None:
    rows = [["Kode", "Nama Toko"], ["K1", "one"], ["K2", "two"]]
    mapping = [
        {"id": "dataId", "headerColumn": "Kode"},
        {"id": "name", "headerColumn": "nama toko"},
    ]
    code = preview_code(start, rows)
    done = app_client.put(f"{API}/import-jobs/{code}", headers=auth, json={"mapping": mapping})
    assert done.json()["data"]["createdCount"] == 2
    code = preview_code(start, [["Kode", "Nama Toko"], ["K1", "uno"], ["K3", "tres"]])
    body = {"mapping": mapping, "importMode": "UpdateOnly", "matchField": "dataId"}
    done = app_client.put(f"{API}/import-jobs/{code}", headers=auth, json=body)
    view = done.json()["data"]
    assert (view["updatedCount"], view["skippedCount"], view["createdCount"]) == (1, 1, 0)
    assert view["status"] == "Completed"
    saved = records(db)
    assert (saved["K1"]["name"], saved["K2"]["name"]) == ("uno", "two") and "K3" not in saved
    with db.read() as session:
        job = session.get(ImportJob, code)
        assert job is not None
        assert job.mapping == [
            {"id": "dataId", "headerColumn": "Kode"},
            {"id": "name", "headerColumn": "Nama Toko"},
        ]


def test_repeated_headers_can_each_be_mapped(start, app_client, auth, db) -> None:
    """Two "Name" columns: the preview names the second "Name (2)", and a mapping takes it."""
    rows = [["Outlet Code", "Name", "Name"], ["K1", "old name", "new name"]]
    response = start(csv_bytes(rows))
    assert response.json()["data"]["headers"] == ["Outlet Code", "Name", "Name (2)"]
    code = response.json()["data"]["code"]
    mapping = [
        {"id": "dataId", "headerColumn": "Outlet Code"},
        {"id": "name", "headerColumn": "Name (2)"},
        {"headerColumn": "Name", "ignore": True},  # every column mapped or ignored
    ]
    done = app_client.put(f"{API}/import-jobs/{code}", headers=auth, json={"mapping": mapping})
    assert done.json()["data"]["createdCount"] == 1, done.text
    assert done.json()["data"]["ignoredColumns"] == ["Name"]
    assert records(db)["K1"]["name"] == "new name"


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({"mapping": [{"id": "nope", "headerColumn": "Name"}]}, "import-003", "unknown field"),
        ({"mapping": [{"id": "name", "headerColumn": "Missing"}]}, "import-003", "not in the file"),
        (
            {"mapping": [{"id": "dataId", "headerColumn": "Outlet Code"}]},
            "import-001",
            "Required column(s) not found in the file: Name (name)",
        ),
        ({"mapping": {"name": "Name"}}, "import-003", "mapping must be a list"),
        ({"importMode": "Sometimes"}, "import-003", "importMode must be one of"),
        ({"matchField": "shoeSize"}, "import-003", "Unknown matchField"),
        ({"importConfigId": "0" * 24}, "import-033", "not found"),
        (["not", "an", "object"], "import-003", "JSON object"),
    ],
)
def test_bad_confirm_bodies_are_refused_and_the_preview_stays_confirmable(
    start, app_client, auth, body, code, message
) -> None:
    job = preview_code(start, [["Outlet Code", "Name"], ["1", "a"]])
    response = app_client.put(f"{API}/import-jobs/{job}", headers=auth, json=body)
    assert response.json()["failedCode"] == code, response.text
    assert response.status_code == (404 if code == "import-033" else 400)
    assert message in response.json()["message"]
    assert app_client.put(f"{API}/import-jobs/{job}", headers=auth, json={}).status_code == 201


def test_confirm_answers_202_while_the_job_runs(start, app_for, auth, monkeypatch) -> None:
    client = app_for(confirm_wait_seconds=0)
    monkeypatch.setattr(queue, "_overrides", {"plan": lambda job_id: None})
    code = preview_code(start, [["Outlet Code", "Name"], ["1", "a"]])
    response = client.put(f"{API}/import-jobs/{code}", headers=auth, json={})
    assert response.status_code == 202, response.text
    view = response.json()["data"]
    assert view["status"] == "Queued" and "completedDate" not in view
    assert client.get(f"{API}/import-monitoring/{code}", headers=auth).status_code == 200

    cancelled = client.post(f"{API}/import-jobs/{code}/cancel", headers=auth)
    assert cancelled.status_code == 200
    assert cancelled.json()["data"]["status"] == "Cancelled"
    assert "completedDate" in cancelled.json()["data"]
    record = client.get(f"{API}/import-monitoring/{code}", headers=auth).json()["data"]
    assert record["status"] == "failed" and "processedAt" in record  # DECISIONS Precedence 4
    assert record["errorMessage"].startswith("Cancelled by ops@acme.test at ")


def test_cancel_flags_a_running_job_and_refuses_one_with_every_chunk_written(
    start, app_for, auth, db, monkeypatch
) -> None:
    client = app_for(confirm_wait_seconds=0)
    monkeypatch.setattr(queue, "_overrides", {"plan": lambda job_id: None})
    code = preview_code(start, [["Outlet Code", "Name"], ["1", "a"]])
    client.put(f"{API}/import-jobs/{code}", headers=auth, json={})

    def state(**values: Any) -> None:
        with db.write() as session:
            session.execute(sa.update(ImportJob).where(ImportJob.id == code).values(**values))

    state(phase="running", total_chunks=2, processed_chunks=2)
    finishing = client.post(f"{API}/import-jobs/{code}/cancel", headers=auth)
    assert finishing.status_code == 409 and finishing.json()["failedCode"] == "import-032"
    state(processed_chunks=1)
    flagged = client.post(f"{API}/import-jobs/{code}/cancel", headers=auth)
    assert flagged.status_code == 200 and flagged.json()["data"]["status"] == "InProgress"
    with db.read() as session:
        job = session.get(ImportJob, code)
        assert job is not None and job.cancel_requested and job.phase == "running"


def test_confirm_waits_for_a_job_finished_by_a_worker(start, app_for, auth, monkeypatch):
    """The wait polls the database: a job finished elsewhere while we wait answers 201."""
    from loadbay.imports import pipeline

    pending: list[str] = []
    client = app_for(confirm_wait_seconds=5)
    monkeypatch.setattr(queue, "_overrides", {"plan": pending.append})
    real_load = jobs_routes.load_job
    polls: list[int] = []

    def load_and_work(org: str, code: str, db: Database | None = None) -> ImportJob:
        polls.append(1)
        if len(polls) == 2:  # the "worker" runs between two polls
            pipeline.plan_job(pending.pop())
        return real_load(org, code, db)

    monkeypatch.setattr(jobs_routes, "load_job", load_and_work)
    code = preview_code(start, [["Outlet Code", "Name"], ["1", "a"]])
    response = client.put(f"{API}/import-jobs/{code}", headers=auth, json={})
    assert response.status_code == 201 and response.json()["data"]["status"] == "Completed"
    assert len(polls) == 2


def test_cancel_before_confirm_and_after_finishing(start, app_client, auth, db) -> None:
    code = preview_code(start, [["Outlet Code", "Name"], ["1", "a"]])
    cancelled = app_client.post(f"{API}/import-jobs/{code}/cancel", headers=auth)
    assert cancelled.status_code == 200 and cancelled.json()["data"]["status"] == "Cancelled"
    late = app_client.put(f"{API}/import-jobs/{code}", headers=auth, json={})
    assert late.status_code == 409 and late.json()["failedCode"] == "import-032"
    again = app_client.post(f"{API}/import-jobs/{code}/cancel", headers=auth)
    assert again.status_code == 409 and again.json()["failedCode"] == "import-032"
    assert records(db) == {}

    done = preview_code(start, [["Outlet Code", "Name"], ["1", "a"]])
    assert app_client.put(f"{API}/import-jobs/{done}", headers=auth, json={}).status_code == 201
    finished = app_client.post(f"{API}/import-jobs/{done}/cancel", headers=auth)
    assert finished.status_code == 409 and finished.json()["failedCode"] == "import-032"
    view = app_client.get(f"{API}/import-jobs/{done}", headers=auth).json()["data"]
    assert view["status"] == "Completed"


def test_a_running_job_stops_after_the_chunk_in_flight(
    start, app_for, auth, db, monkeypatch, org_id
) -> None:
    from loadbay.imports import pipeline
    from loadbay.queue import handled_here

    client = app_for(chunk_size=2)
    rows = [["Outlet Code", "Name"]] + [[f"R{n}", f"row {n}"] for n in range(10)]
    code = preview_code(start, rows)
    seen: list[str] = []

    def chunk_then_cancel(chunk_id: str) -> None:
        pipeline.run_chunk(chunk_id)
        seen.append(chunk_id)
        if len(seen) == 1:  # the user cancels while the first chunk is written
            with db.write() as session:
                jobs.cancel_job(session, Principal(org_id, "ops@acme.test", frozenset()), code)

    with handled_here(chunk=chunk_then_cancel):
        response = client.put(f"{API}/import-jobs/{code}", headers=auth, json={})
    view = response.json()["data"]
    assert response.status_code == 201 and view["status"] == "Cancelled"
    # the views say what was written: the cancelled rows are not counted (issue 13)
    assert (view["totalItems"], view["processedItems"], view["createdCount"]) == (2, 2, 2)
    assert set(records(db)) == {"R0", "R1"}


def test_show_preview_false_confirms_at_once(start, app_client, auth, db, monitoring) -> None:
    response = start(csv_bytes([["Outlet Code", "Name"], ["S1", "one"]]), showPreview="false")
    assert response.status_code == 201, response.text
    view = response.json()["data"]
    assert view["status"] == "Completed" and view["createdCount"] == 1
    assert monitoring(view["code"])["status"] == "success"
    assert set(records(db)) == {"S1"}


def test_no_header_row_and_a_flow_target(start, app_client, auth, catalog, db) -> None:
    response = start(csv_bytes([["N1", "one"], ["N2", "two"]]), hasHeaderRow="false")
    data = response.json()["data"]
    assert data["hasHeaderRow"] is False and data["headers"] == ["Column 1", "Column 2"]
    assert data["totalRows"] == 2 and data["previewRows"][0]["rowNumber"] == 1
    mapping = [
        {"id": "dataId", "headerColumn": "Column 1"},
        {"id": "name", "headerColumn": "Column 2"},
    ]
    put = app_client.put(
        f"{API}/import-jobs/{data['code']}", headers=auth, json={"mapping": mapping}
    )
    assert put.status_code == 201 and put.json()["data"]["createdCount"] == 2

    flow = start(
        csv_bytes([["Title", "Order Number", "Weight"], ["Drop", "SO-1", "x"]]),
        filename="tasks.csv",
        flowId=catalog["flow"],
        hubId=catalog["hub"],
    ).json()["data"]
    assert {"id": "orderNumber", "headerColumn": "Order Number"} in flow["suggestedMapping"]
    assert flow["previewRows"][0]["errors"] == [
        {"column": "Weight", "message": "Weight: 'x' is not a number"}
    ]


def test_form_and_file_errors(start, app_client, auth, catalog) -> None:
    neither = start(csv_bytes([["a"], ["1"]]), dataTypeId="", hubId="")
    assert neither.status_code == 400 and neither.json()["failedCode"] == "import-001"
    both = start(csv_bytes([["a"], ["1"]]), flowId=catalog["flow"], dataTypeId=catalog["outlet"])
    assert both.status_code == 400 and both.json()["failedCode"] == "import-003"
    empty = start(csv_bytes([["Outlet Code", "Name"]]))
    assert empty.status_code == 400 and empty.json()["failedCode"] == "import-015"
    assert empty.json()["message"] == "File has no data rows"
    no_hub = start(csv_bytes([["Outlet Code"], ["1"]]), hubId="")
    assert no_hub.status_code == 400 and no_hub.json()["failedCode"] == "import-001"
    unknown = app_client.get(f"{API}/import-jobs/{'0' * 24}", headers=auth)
    assert unknown.status_code == 404 and unknown.json()["failedCode"] == "import-004"


def test_another_organisation_sees_404_everywhere(start, app_client, other) -> None:
    code = preview_code(start, [["Outlet Code", "Name"], ["1", "a"]])
    for method, path, kwargs in (
        ("GET", f"{API}/import-jobs/{code}", {}),
        ("PUT", f"{API}/import-jobs/{code}", {"json": {}}),
        ("POST", f"{API}/import-jobs/{code}/cancel", {}),
    ):
        response = app_client.request(method, path, headers=other, **kwargs)
        assert response.status_code == 404, (method, path)
        assert response.json() == {
            "status": False,
            "message": "Import monitoring record not found",
            "failedCode": "import-004",
        }


def test_without_import_permission_403(app_client, token_for, catalog, start) -> None:
    headers = {"Authorization": f"Bearer {token_for(perms='export')}"}
    code = preview_code(start, [["Outlet Code", "Name"], ["1", "a"]])
    view = app_client.get(f"{API}/import-jobs/{code}", headers=headers)
    assert view.status_code == 403 and view.json()["failedCode"] == "auth-003"
    response = app_client.post(
        f"{API}/import-jobs",
        headers=headers,
        data={"dataTypeId": catalog["outlet"], "hubId": catalog["hub"]},
        files={"file": ("a.csv", b"Outlet Code,Name\n1,a\n")},
    )
    assert response.status_code == 403 and response.json()["failedCode"] == "auth-003"
