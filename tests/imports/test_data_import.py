"""Importing data-source records end to end through the API, on every engine."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from typing import Any

import pytest
import sqlalchemy as sa

from loadbay.catalog.models import Record
from loadbay.db import Database
from tests.imports.conftest import csv_bytes

HEADER = [
    "Outlet Code",
    "Name",
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


def records(db: Database) -> dict[str, dict[str, Any]]:
    with db.read() as session:
        return {r.data_id: r.data for r in session.scalars(sa.select(Record))}


def test_valid_file_creates_every_record_keeping_values(upload, monitoring, db) -> None:
    content = csv_bytes(
        [
            HEADER,
            [
                "007",
                "Toko Satu",
                "0812345",
                "a@b.co",
                "retail",
                "-6.2,106.8",
                "2024-01-31",
                "2024-01-31 08:30",
                "1500.50",
                "3",
                "yes",
            ],
            [
                "198000000000000001",
                "Toko Dua",
                "+62 21 555",
                "",
                "Wholesale",
                "",
                "",
                "",
                "",
                "",
                "",
            ],
            ["", "", "", "", "", "", "", "", "", "", ""],
        ]
    )
    response = upload(content)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (
        body["status"] is True and body["message"] == "Import process has been queued successfully"
    )
    job = monitoring(body["data"]["_id"])
    assert job["status"] == "success"
    assert (job["totalRows"], job["totalValid"], job["totalInvalid"]) == (2, 2, 0)
    assert job["type"] == "datasource" and job["dataTypeName"] == "Outlet"
    assert job["totalChunks"] == job["processedChunks"] == 1
    assert "processedAt" in job and "fileFailedImported" not in job
    assert job["fileTemplate"].startswith("http")
    saved = records(db)
    assert saved["007"]["name"] == "Toko Satu"
    assert saved["007"]["phone"] == "0812345"
    assert saved["007"]["category"] == "Retail"
    assert saved["007"]["openSince"] == "2024-01-31"
    assert saved["007"]["lastVisit"] == "2024-01-31T08:30:00"
    assert saved["007"]["creditLimit"] == 1500.5
    assert saved["007"]["visits"] == 3
    assert saved["007"]["active"] is True
    assert saved["198000000000000001"]["phone"] == "+62 21 555"
    assert "email" not in saved["198000000000000001"]


def test_every_failed_row_lists_each_reason_and_the_file_says_why(
    upload, monitoring, app_client, db
) -> None:
    content = csv_bytes(
        [
            HEADER,
            ["A1", "Good", "", "", "", "", "", "", "", "", ""],
            [
                "A2",
                "",
                "abc",
                "not-an-email",
                "Other",
                "91,10",
                "31/02/2024",
                "",
                "1,5",
                "2.5",
                "maybe",
            ],
            ["A1", "Again", "", "", "", "", "", "", "", "", ""],
            ["A3", '=HYPERLINK("x")', "", "", "", "", "", "", "", "", ""],
        ]
    )
    job = monitoring(upload(content).json()["data"]["_id"])
    assert job["status"] == "partially", str(job)
    assert (job["totalRows"], job["totalValid"], job["totalInvalid"]) == (4, 2, 2)
    link = job["fileFailedImported"]
    response = app_client.get(link.split("127.0.0.1:8000", 1)[1])
    assert response.status_code == 200
    text = response.content.decode("utf-8-sig")
    lines = text.strip().splitlines()
    assert lines[0].startswith("Row,Outlet Code,Name")
    assert lines[0].endswith(",Error")
    row3 = next(line for line in lines if line.startswith("3,"))
    for reason in (
        "Name is required",
        "Phone: 'abc' is not a phone number",
        "Email: 'not-an-email' is not an e-mail address",
        "Category: 'Other' is not one of",
        "latitude 91 is out of range",
        "Open Since: '31/02/2024'",
        "Credit Limit: '1,5' is not a number",
        "Visits: '2.5' is not a whole number",
        "Active: 'maybe' is not a boolean",
    ):
        assert reason in row3, reason
    row4 = next(line for line in lines if line.startswith("4,"))
    assert "duplicate of row 2" in row4
    assert set(records(db)) == {"A1", "A3"}
    assert records(db)["A3"]["name"] == '=HYPERLINK("x")'


def test_failed_rows_as_xlsx_with_the_bad_cells_marked(
    upload, monitoring, app_client, auth
) -> None:
    """DECISIONS (wave 2): `failedRowsXlsxUrl`, the failed rows as XLSX whatever the
    upload's format, each cell a row failed on highlighted, and the reasons."""
    content = csv_bytes(
        [
            ["Outlet Code", "Name", "Email", "Visits"],
            ["C1", "Good", "", "1"],
            ["C2", "", "not-an-email", "2"],
            ["C3", "Fine", "c@d.co", "2.5"],
        ]
    )
    job = monitoring(upload(content).json()["data"]["_id"])
    assert job["totalInvalid"] == 2
    link = job["failedRowsXlsxUrl"]
    view = app_client.get(f"/api/v3/import-jobs/{job['_id']}", headers=auth).json()["data"]
    assert view["failedRowsXlsxUrl"].split("?")[0] == link.split("?")[0]
    answer = app_client.get(link.split("127.0.0.1:8000", 1)[1])
    assert answer.status_code == 200
    assert f"failed_rows_outlets_{job['_id']}.xlsx" in answer.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(answer.content)) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
        styles = book.read("xl/styles.xml").decode()
    assert 'fgColor rgb="FFFFC7CE"' in styles
    rows = re.findall(r"<row [^>]*>(.*?)</row>", sheet)
    cells = [[' s="5"' in c for c in re.findall(r"<c[ >/].*?(?:/>|</c>)", row)] for row in rows]
    texts = [re.findall(r"<t[^>]*>([^<]*)</t>", row) for row in rows]
    assert texts[0] == ["Row", "Outlet Code", "Name", "Email", "Visits", "Error"]
    # row 3: Name and Email marked; row 4: Visits marked; nothing else
    assert cells[1] == [False, False, True, True, False, False]
    assert cells[2] == [False, False, False, False, True, False]
    assert "Name is required" in texts[1][-1] and "not an e-mail address" in texts[1][-1]
    assert texts[2][:2] == ["C3", "Fine"] and "2.5" in texts[2]
    assert "fileFailedImported" in job  # the vendor's file, in the upload's format, stays


def test_the_failed_rows_file_fixed_imports_back(upload, monitoring, app_client, db) -> None:
    """The usual round: download the failed rows, fix them in place, upload that file.
    Its Row and Error columns are not fields and are left aside; escaped cells come back
    as they were typed."""
    content = csv_bytes(
        [
            ["Outlet Code", "Name", "Email"],
            ["B1", "Good", ""],
            ["B2", "", "a@b.co"],
            ["B3", "=SUM(1)", "not-an-email"],
        ]
    )
    job = monitoring(upload(content).json()["data"]["_id"])
    assert (job["totalValid"], job["totalInvalid"]) == (1, 2)
    failed = app_client.get(job["fileFailedImported"].split("127.0.0.1:8000", 1)[1])
    rows = list(csv.reader(io.StringIO(failed.content.decode("utf-8-sig"))))
    assert rows[0] == ["Row", "Outlet Code", "Name", "Email", "Error"]
    assert [r[:4] for r in rows[1:]] == [
        ["3", "B2", "", "a@b.co"],
        ["4", "B3", "'=SUM(1)", "not-an-email"],
    ]
    rows[1][2] = "Second"  # the fixes
    rows[2][3] = "c@d.co"
    again = monitoring(upload(csv_bytes(rows)).json()["data"]["_id"])
    assert (again["status"], again["totalValid"], again["totalInvalid"]) == ("success", 2, 0)
    saved = records(db)
    assert (saved["B2"]["name"], saved["B3"]["name"], saved["B3"]["email"]) == (
        "Second",
        "=SUM(1)",
        "c@d.co",
    )


def test_import_modes(upload, monitoring, db) -> None:
    base = csv_bytes([["Outlet Code", "Name"], ["K1", "one"], ["K2", "two"]])
    assert monitoring(upload(base).json()["data"]["_id"])["status"] == "success"

    again = csv_bytes([["Outlet Code", "Name"], ["K1", "uno"], ["K3", "tres"]])
    job = monitoring(upload(again, importMode="CreateOnly").json()["data"]["_id"])
    assert (job["totalValid"], job["totalInvalid"], job["status"]) == (1, 1, "success")
    assert records(db)["K1"]["name"] == "one"

    job = monitoring(
        upload(
            csv_bytes([["Outlet Code", "Name"], ["K2", "dos"], ["K9", "nine"]]),
            importMode="UpdateOnly",
        ).json()["data"]["_id"]
    )
    assert (job["totalValid"], job["totalInvalid"]) == (1, 1)
    assert records(db)["K2"]["name"] == "dos" and "K9" not in records(db)

    job = monitoring(
        upload(csv_bytes([["Outlet Code", "Name"], ["K1", "uno"], ["K4", "four"]])).json()["data"][
            "_id"
        ]
    )
    assert (job["totalValid"], job["totalInvalid"]) == (2, 0)
    assert records(db)["K1"]["name"] == "uno" and records(db)["K4"]["name"] == "four"
    assert sorted(records(db)) == ["K1", "K2", "K3", "K4"]


def test_missing_required_column_fails_the_job_with_a_clear_message(upload, monitoring) -> None:
    job = monitoring(
        upload(csv_bytes([["Outlet Code", "Phone"], ["X", "0812"]])).json()["data"]["_id"]
    )
    assert job["status"] == "failed"
    assert "Required column(s) not found in the file: Name (name)" in job["errorMessage"]


def test_upload_errors_use_the_spec_codes(app_client, auth, catalog, upload) -> None:
    no_file = app_client.post(
        "/api/v3/data/import", headers=auth, data={"dataTypeId": catalog["outlet"]}
    )
    assert no_file.status_code == 400 and no_file.json() == {
        "status": False,
        "message": "The file field is required.",
        "failedCode": "import-001",
    }
    bad_type = upload(b"\x00\x01binary", filename="photo.png")
    assert bad_type.status_code == 422 and bad_type.json() == {
        "status": False,
        "message": "The file must be a file of type: csv, xls, xlsx.",
        "failedCode": "import-002",
        "detail": "found a file named .png; loadbay reads CSV, TSV, XLSX, XLS, JSON and NDJSON",
    }
    no_hub = upload(csv_bytes([["Outlet Code", "Name"], ["1", "a"]]), hubId="")
    assert no_hub.status_code == 400 and no_hub.json() == {
        "status": False,
        "message": "The hubId field is required for this data type",
        "failedCode": "import-001",
    }
    bad_mode = upload(csv_bytes([["Outlet Code", "Name"]]), importMode="Sometimes")
    assert bad_mode.status_code == 400 and bad_mode.json()["failedCode"] == "import-003"
    # the vendor's upload answers 422 for a data type (or flow, hub) it cannot find
    unknown = upload(csv_bytes([["a"]]), dataTypeId="0" * 24)
    assert unknown.status_code == 422 and unknown.json()["failedCode"] == "import-033"
    unknown_flow = upload(csv_bytes([["a"]]), path="/api/v3/tasks/import", flowId="0" * 24)
    assert unknown_flow.status_code == 422 and unknown_flow.json()["failedCode"] == "import-033"
    unknown_hub = upload(csv_bytes([["a"]]), hubId="0" * 24)
    assert unknown_hub.status_code == 422 and unknown_hub.json()["failedCode"] == "import-033"
    empty = upload(b"")
    assert empty.status_code == 400


def test_upload_over_the_size_limit_is_refused_while_streaming(upload_for) -> None:
    upload = upload_for(max_upload_bytes=1000)
    response = upload(b"Outlet Code,Name\r\n" + b"x,y\r\n" * 1000)
    assert response.status_code == 413
    assert response.json()["failedCode"] == "import-040"


def test_common_data_types_need_no_hub_and_are_unique_per_organisation(
    upload, monitoring, catalog, db
) -> None:
    content = csv_bytes([["dataId", "Name"], ["B1", "Brand one"]])
    job = monitoring(upload(content, dataTypeId=catalog["brand"], hubId="").json()["data"]["_id"])
    assert job["status"] == "success"
    job = monitoring(upload(content, dataTypeId=catalog["brand"], hubId="").json()["data"]["_id"])
    assert (job["totalValid"], job["status"]) == (1, "success")
    with db.read() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Record)) == 1


def test_monitoring_lists_filters_and_rejects_bad_values(
    upload, app_client, auth, token_for
) -> None:
    upload(csv_bytes([["Outlet Code", "Name"], ["1", "a"]]))
    upload(csv_bytes([["Outlet Code"], ["1"]]))
    listing = app_client.get("/api/v3/import-monitoring?limit=1", headers=auth).json()["data"]
    assert listing["total"] == 2 and listing["per_page"] == 1 and listing["last_page"] == 2
    assert len(listing["data"]) == 1 and listing["next_page_url"].endswith("page=2")
    failed = app_client.get("/api/v3/import-monitoring?status=failed", headers=auth).json()["data"]
    assert [r["status"] for r in failed["data"]] == ["failed"]
    bad = app_client.get("/api/v3/import-monitoring?status=done", headers=auth)
    assert bad.status_code == 400
    assert bad.json() == {
        "status": False,
        "message": "Invalid status value",  # the vendor's body, exactly
        "failedCode": "import-003",
    }
    other = {"Authorization": f"Bearer {token_for('other-org', 'x@other.test')}"}
    assert app_client.get("/api/v3/import-monitoring", headers=other).json()["data"]["total"] == 0
    job_id = listing["data"][0]["_id"]
    hidden = app_client.get(f"/api/v3/import-monitoring/{job_id}", headers=other)
    assert hidden.status_code == 404 and hidden.json()["failedCode"] == "import-004"


def test_tasks_import_creates_tasks_of_the_flow(upload, monitoring, db, catalog) -> None:
    from loadbay.catalog.models import Task

    content = csv_bytes(
        [
            ["Title", "Order Number", "Weight", "Status", "Start Time"],
            ["Drop 1", "SO-001", "12.5", "ongoing", "2024-05-01 09:00"],
            ["Drop 2", "", "x", "LOST", ""],
        ]
    )
    job = monitoring(
        upload(
            content, filename="tasks.csv", path="/api/v3/tasks/import", hubId=catalog["hub"]
        ).json()["data"]["_id"]
    )
    assert job["type"] == "task" and job["flowName"] == "Delivery"
    assert (job["totalValid"], job["totalInvalid"], job["status"]) == (1, 1, "partially")
    with db.read() as session:
        task = session.scalars(sa.select(Task)).one()
    assert (
        task.title == "Drop 1"
        and task.status == "ONGOING"
        and task.data == {"orderNumber": "SO-001", "weight": 12.5}
    )
    assert (
        task.start_time is not None and task.start_time.hour == 9 and task.hub_id == catalog["hub"]
    )


def test_every_task_column_lands_where_it_belongs(upload, monitoring, db, catalog, org_id) -> None:
    """The bulk task insert (tuples made before the write turn; COPY on PostgreSQL) puts
    each reserved field in its column, times in naive UTC, the rest in `data`."""
    from datetime import datetime

    from loadbay.catalog.models import Hub, Task

    with db.write() as session:
        other_hub = Hub(organization_id=org_id, name="Bandung")
        session.add(other_hub)
        session.flush()
        other = other_hub.id
    content = csv_bytes(
        [
            ["Title", "Status", "Assignee", "Hub ID", "Start Time", "End Time", "Done By",
             "Done Time", "Order Number", "Weight"],
            ["Drop 1", "done", "a@acme.test", other, "2024-05-01T09:00:00+07:00",
             "2024-05-01 12:30", "b@acme.test", "2024-05-01 12:00", "007", "1.5"],
            ["Drop 2", "", "", "", "", "", "", "", "SO-2", ""],
        ]
    )  # fmt: skip
    job = monitoring(
        upload(content, filename="t.csv", path="/api/v3/tasks/import", hubId=catalog["hub"]).json()[
            "data"
        ]["_id"]
    )
    assert (job["status"], job["totalValid"]) == ("success", 2), job
    with db.read() as session:
        saved = {t.title: t for t in session.scalars(sa.select(Task))}
    one, two = saved["Drop 1"], saved["Drop 2"]
    assert (one.status, one.assignee, one.hub_id, one.done_by) == (
        "DONE",
        "a@acme.test",
        other,
        "b@acme.test",
    )
    assert one.start_time == datetime(2024, 5, 1, 2, 0)  # +07:00 → UTC
    assert (one.end_time, one.done_time) == (datetime(2024, 5, 1, 12, 30), datetime(2024, 5, 1, 12))
    assert one.data == {"orderNumber": "007", "weight": 1.5}
    assert (one.organization_id, one.flow_id) == (org_id, catalog["flow"])
    assert (two.status, two.hub_id, two.assignee, two.start_time) == (
        "UNASSIGNED",
        catalog["hub"],  # the form's hub when the row names none
        None,
        None,
    )
    assert two.data == {"orderNumber": "SO-2"}
    assert one.id != two.id and one.created_time == two.created_time


def test_no_permission_is_403(app_client, token_for, catalog) -> None:
    headers = {"Authorization": f"Bearer {token_for(perms='export')}"}
    response = app_client.post(
        "/api/v3/data/import",
        headers=headers,
        data={"dataTypeId": catalog["outlet"]},
        files={"file": ("a.csv", b"a\n1\n")},
    )
    assert response.status_code == 403 and response.json()["failedCode"] == "auth-003"


def test_an_update_with_a_blank_cell_clears_that_field_on_every_engine(
    upload, monitoring, db
) -> None:
    upload(csv_bytes([["Outlet Code", "Name", "Phone"], ["P1", "one", "0811"]]))
    assert records(db)["P1"] == {"dataId": "P1", "name": "one", "phone": "0811"}
    job = upload(
        csv_bytes([["Outlet Code", "Name", "Phone"], ["P1", "uno", ""]]), importMode="UpdateOnly"
    )
    assert monitoring(job.json()["data"]["_id"])["totalValid"] == 1
    assert records(db)["P1"] == {"dataId": "P1", "name": "uno"}


def test_odd_client_input_gets_a_clear_400_never_a_500(app_client, auth, catalog, upload) -> None:
    long_boundary = "b" * 300
    body = f'--{long_boundary}\r\nContent-Disposition: form-data; name="x"\r\n\r\n1\r\n--{long_boundary}--\r\n'
    response = app_client.post(
        "/api/v3/data/import",
        headers={**auth, "Content-Type": f"multipart/form-data; boundary={long_boundary}"},
        content=body.encode(),
    )
    assert response.status_code == 400
    assert response.json()["failedCode"] == "import-015"
    odd_name = upload(b'[{"Outlet Code": "J1", "Name": "json"}]', filename="x.j\x01son")
    assert odd_name.status_code == 200, odd_name.text
    huge_page = app_client.get("/api/v3/import-monitoring?page=100000000000000000000", headers=auth)
    assert huge_page.status_code == 400
    assert huge_page.json()["failedCode"] == "import-003"


def test_a_read_error_midway_keeps_what_was_read_and_says_where_it_stopped(
    upload_for, monitoring, db
) -> None:
    upload = upload_for(chunk_size=2, max_cell_chars=20)
    content = csv_bytes(
        [
            ["Outlet Code", "Name"],
            ["R1", "a"],
            ["R2", "b"],
            ["R3", "c"],
            ["R4", "x" * 50],
            ["R5", "e"],
        ]
    )
    job = monitoring(upload(content).json()["data"]["_id"])
    assert job["status"] == "partially", str(job)
    assert (job["totalRows"], job["totalValid"], job["totalInvalid"]) == (3, 3, 0)
    assert "Row 5" in job["errorMessage"] and "not read" in job["errorMessage"]
    assert sorted(records(db)) == ["R1", "R2", "R3"]


def test_the_same_key_written_two_ways_fails_the_later_row_not_the_chunk(
    upload, monitoring, db, catalog
) -> None:
    job = monitoring(
        upload(csv_bytes([["dataId", "Name"], ["A", "one"], ["B", "two"], ["A", "three"]]),
               dataTypeId=catalog["brand"], hubId="", matchField="name").json()["data"]["_id"]
    )  # fmt: skip
    assert (job["totalValid"], job["totalInvalid"]) == (2, 1)
    assert sorted(records(db)) == ["A", "B"]


def test_a_task_update_with_blank_cells_keeps_status_and_hub(
    upload, monitoring, db, catalog
) -> None:
    from loadbay.catalog.models import Task

    first = csv_bytes([["Order Number", "Status"], ["SO-9", "ONGOING"]])
    upload(first, filename="t.csv", path="/api/v3/tasks/import", hubId=catalog["hub"])
    again = csv_bytes([["Order Number", "Status", "Weight"], ["SO-9", "", "4"]])
    job = monitoring(upload(again, filename="t.csv", path="/api/v3/tasks/import",
                            matchField="orderNumber", importMode="UpdateOnly").json()["data"]["_id"])  # fmt: skip
    assert (job["totalValid"], job["totalInvalid"]) == (1, 0)
    with db.read() as session:
        task = session.scalars(sa.select(Task)).one()
    assert (task.status, task.hub_id, task.data) == (
        "ONGOING",
        catalog["hub"],
        {"orderNumber": "SO-9", "weight": 4},
    )


def test_match_on_a_boolean_field_and_hubs_of_other_organisations(
    upload, monitoring, db, catalog, make_org
) -> None:
    upload(
        csv_bytes(
            [["Outlet Code", "Name", "Active"], ["M1", "one", "true"], ["M2", "two", "false"]]
        )
    )
    job = upload(
        csv_bytes([["Outlet Code", "Name", "Active"], ["ignored", "renamed", "yes"]]),
        importMode="UpdateOnly",
        matchField="active",
    )
    assert monitoring(job.json()["data"]["_id"])["totalValid"] == 1
    assert records(db)["M1"]["name"] == "renamed"
    assert records(db)["M2"]["name"] == "two"

    from loadbay.catalog.models import Hub

    with db.write() as session:
        foreign = Hub(organization_id=make_org("other-org"), name="Elsewhere")
        session.add(foreign)
        session.flush()
        foreign_id = foreign.id
    content = csv_bytes(
        [["Order Number", "Hub ID"], ["SO-1", foreign_id], ["SO-2", catalog["hub"]]]
    )
    job = monitoring(
        upload(content, filename="t.csv", path="/api/v3/tasks/import").json()["data"]["_id"]
    )
    assert (job["totalValid"], job["totalInvalid"]) == (1, 1)


@pytest.mark.parametrize(
    "db", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_a_big_import_refreshes_postgres_statistics(
    upload: Any, monitoring: Any, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from loadbay.imports import finalize

    def last_analyze() -> Any:
        with db.read() as session:
            return session.scalar(
                sa.text(
                    "SELECT last_analyze FROM pg_stat_user_tables "
                    "WHERE relname = 'records' AND schemaname = current_schema()"
                )
            )

    monkeypatch.setattr(finalize, "ANALYZE_AFTER_ROWS", 3)  # "big": three rows will do here
    assert last_analyze() is None
    rows = [[f"K{i}", f"Toko {i}", "", "", "", "", "", "", "", "", ""] for i in range(3)]
    response = upload(csv_bytes([HEADER, *rows]))
    assert monitoring(response.json()["data"]["_id"])["status"] == "success"
    assert last_analyze() is not None
