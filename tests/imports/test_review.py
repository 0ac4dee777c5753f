"""The import review (issue 10, items 1, 2 and 7) on every engine: the file's structure
first, no silent columns with one mapping resolver, and a rule for invalid rows."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from loadbay.catalog.models import Record
from loadbay.db import Database
from tests.imports.conftest import csv_bytes
from tests.tabular.xlsx_build import build_xlsx, worksheet

API = "/api/v3"
MESSY = Path(__file__).parent.parent / "fixtures" / "messy"
MESSY_HEAD = [
    "Outlet Code", "Outlet Name", "Outlet Type", "Owner Phone No.", "Post Code",
    "Registered Date", "Credit Limit (Rp)", "Active?", "Lat/Long", "Email",
]  # fmt: skip
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Starter = Callable[..., Any]


@pytest.fixture
def start(app_client: TestClient, auth: dict[str, str], catalog: dict[str, str]) -> Starter:
    def _start(content: bytes, filename: str = "outlets.csv", **form: str) -> Any:
        data = {"dataTypeId": catalog["outlet"], "hubId": catalog["hub"], **form}
        return app_client.post(
            f"{API}/import-jobs", headers=auth, data=data, files={"file": (filename, content)}
        )

    return _start


def records(db: Database) -> dict[str, dict[str, Any]]:
    with db.read() as session:
        return {r.data_id: r.data for r in session.scalars(sa.select(Record))}


def confirm(app_client: TestClient, auth: dict[str, str], code: str, **body: Any) -> Any:
    return app_client.put(f"{API}/import-jobs/{code}", headers=auth, json=body)


# ---- (a) no silent columns on the vendor endpoints ----------------------------------------


def test_vendor_import_lists_every_column_it_did_not_import(upload, monitoring, db) -> None:
    """Before: "Registered Date" and "Lat/Long" were dropped and the import said success."""
    rows = [
        ["Outlet Code", "Name", "Registered Date", "Lat/Long", "Email", "createdTime", "_id"],
        ["K1", "Toko", "2024-08-15", "-6.2,106.8", "a@b.co", "2024-01-01 00:00:00", ""],
    ]
    response = upload(csv_bytes(rows))
    assert response.status_code == 200, response.text
    record = monitoring(response.json()["data"]["_id"])
    assert record["status"] == "success"
    # createdTime is loadbay's own export column: ignored quietly, still listed.
    assert record["ignoredColumns"] == ["Registered Date", "Lat/Long", "createdTime"]
    assert records(db)["K1"]["email"] == "a@b.co"


def test_tasks_import_lists_the_columns_no_task_field_takes(upload, monitoring, catalog) -> None:
    rows = [["Title", "Order Number", "Driver Note", "hub"], ["Drop", "SO-1", "ring twice", "x"]]
    response = upload(csv_bytes(rows), filename="tasks.csv", path="/api/v3/tasks/import")
    record = monitoring(response.json()["data"]["_id"])
    assert record["status"] == "success", record
    assert record["ignoredColumns"] == ["Driver Note", "hub"]  # hub: an export column


def test_vendor_import_with_unmapped_columns_error_fails_naming_them(upload, monitoring, db):
    rows = [["Outlet Code", "Name", "Lat/Long"], ["K1", "Toko", "-6.2,106.8"]]
    response = upload(csv_bytes(rows), unmappedColumns="error")
    record = monitoring(response.json()["data"]["_id"])
    assert record["status"] == "failed"
    assert (
        "'Lat/Long'" in record["errorMessage"]
        and "neither mapped nor ignored" in (record["errorMessage"])
    )
    assert records(db) == {}
    bad = upload(csv_bytes(rows), unmappedColumns="sometimes")
    assert bad.status_code == 400 and bad.json()["failedCode"] == "import-003"


# ---- (b) one mapping resolver: conflicts are a 400 naming them -----------------------------


def test_a_column_mapped_to_two_fields_is_refused_not_written(start, app_client, auth, db):
    """Before: "Outlet Code" fed both dataId and name, and names were overwritten by codes."""
    code = start(csv_bytes([["Outlet Code", "Name"], ["K1", "Toko Satu"]])).json()["data"]["code"]
    mapping = [
        {"id": "dataId", "headerColumn": "Outlet Code"},
        {"id": "name", "headerColumn": "Outlet Code"},
        {"headerColumn": "Name", "ignore": True},
    ]
    response = confirm(app_client, auth, code, mapping=mapping)
    assert response.status_code == 400 and response.json()["failedCode"] == "import-003"
    assert "Column 'Outlet Code' is used twice (for dataId, name)" in response.json()["message"]
    assert records(db) == {}

    mapping = [
        {"id": "dataId", "headerColumn": "Outlet Code"},
        {"id": "name", "headerColumn": "Name"},
        {"id": "name", "headerColumn": "Outlet Code"},
        {"id": "email", "headerColumn": "E-mail address"},
    ]
    message = confirm(app_client, auth, code, mapping=mapping).json()["message"]
    assert "Field 'name' is named twice (columns Name, Outlet Code)" in message
    assert "Column 'Outlet Code' is used twice (for dataId, name)" in message
    assert "Mapped column 'E-mail address' is not in the file" in message  # all at once
    done = confirm(app_client, auth, code, mapping=mapping[:2])
    assert done.status_code == 201, done.text
    assert records(db)["K1"]["name"] == "Toko Satu"


def test_confirm_refuses_a_column_neither_mapped_nor_ignored(start, app_client, auth, db):
    rows = [["Outlet Code", "Name", "Lat/Long", "updatedBy"], ["K1", "Toko", "1,2", "x@y.z"]]
    preview = start(csv_bytes(rows)).json()["data"]
    assert preview["unmappedColumns"] == ["Lat/Long"]  # updatedBy: loadbay's own export column
    assert preview["ignoredColumns"] == ["Lat/Long", "updatedBy"]
    assert preview["missingRequiredFields"] == []
    refused = confirm(app_client, auth, preview["code"])
    assert refused.status_code == 400 and refused.json()["failedCode"] == "import-003"
    assert "'Lat/Long'" in refused.json()["message"] and records(db) == {}
    done = confirm(app_client, auth, preview["code"], unmappedColumns="ignore")
    assert done.status_code == 201, done.text
    assert done.json()["data"]["ignoredColumns"] == ["Lat/Long", "updatedBy"]
    assert records(db)["K1"] == {"dataId": "K1", "name": "Toko"} | {
        k: v for k, v in records(db)["K1"].items() if k not in ("dataId", "name")
    }
    assert "Lat/Long" not in str(records(db)["K1"])

    preview = start(csv_bytes([["Kode", "Nama", "Catatan"], ["K2", "Dua", "x"]])).json()["data"]
    assert preview["missingRequiredFields"] == ["dataId", "name"]
    assert preview["unmappedColumns"] == ["Kode", "Nama", "Catatan"]
    mapping = [
        {"id": "dataId", "headerColumn": "Kode"},
        {"id": "name", "headerColumn": "Nama"},
        {"headerColumn": "Catatan", "ignore": True},
    ]
    done = confirm(app_client, auth, preview["code"], mapping=mapping)
    assert done.status_code == 201 and done.json()["data"]["ignoredColumns"] == ["Catatan"]
    assert records(db)["K2"]["name"] == "Dua"


# ---- (c) the header past title rows ---------------------------------------------------------


def test_a_header_on_row_3_is_found_and_the_rows_above_reported(start, upload, monitoring, db):
    """Before: "Row 4: column 2 has a value but no header" (row 1 was taken as the header)."""
    rows = [["Outlet list exported from old CRM"], [], ["Outlet Code", "Name"], ["K1", "Toko"]]
    response = upload(csv_bytes(rows))
    record = monitoring(response.json()["data"]["_id"])
    assert record["status"] == "success", record
    assert (record["headerRow"], record["rowsAboveHeader"]) == (3, 1)
    assert records(db)["K1"]["name"] == "Toko"

    preview = start(csv_bytes(rows)).json()["data"]
    assert (preview["headerRow"], preview["rowsAboveHeader"]) == (3, 1)
    assert preview["headers"] == ["Outlet Code", "Name"] and preview["totalRows"] == 1
    assert preview["rawRows"] == [
        ["Outlet list exported from old CRM"],
        [],
        ["Outlet Code", "Name"],
        ["K1", "Toko"],
    ]
    assert preview["previewRows"][0]["rowNumber"] == 4

    # headerRow says where it is: here the title row, so the real header is data.
    told = start(csv_bytes(rows), headerRow="1")
    assert told.status_code == 400
    assert told.json()["message"] == "Row 3: column 2 has a value but no header"
    bad = start(csv_bytes(rows), headerRow="2")
    assert bad.status_code == 400 and "Row 2 (headerRow) is blank" in bad.json()["message"]
    assert start(csv_bytes(rows), headerRow="zero").json()["failedCode"] == "import-003"


def test_the_messy_workbook_notes_sheet_title_and_merged_group_headers(
    start, app_client, auth, db
) -> None:
    """Before: the Notes sheet was read ("File has no data rows" or an empty mapping)."""
    content = (MESSY / "a2_outlets_notes_title_merged.xlsx").read_bytes()
    response = start(content, filename="outlets.xlsx")
    assert response.status_code == 201, response.text
    preview = response.json()["data"]
    assert preview["sheets"] == [
        {"name": "Notes", "index": 0, "rows": 3},
        {"name": "Outlet Data", "index": 1, "rows": 16},  # title, groups, header, 12, TOTAL
    ]
    assert (preview["sheet"], preview["headerRow"], preview["rowsAboveHeader"]) == (
        "Outlet Data",
        4,
        2,
    )
    assert preview["headers"] == MESSY_HEAD
    assert preview["rawRows"][0] == ["DAFTAR OUTLET - Q3 2024"] and preview["rawRows"][1] == []
    assert preview["rawRows"][2][0] == "Outlet" and preview["rawRows"][3] == MESSY_HEAD
    assert len(preview["rawRows"]) == 16 and preview["totalRows"] == 13  # 12 and the TOTAL row
    assert preview["missingRequiredFields"] == []  # "Outlet Name" holds the words of "Name"
    assert {"id": "name", "headerColumn": "Outlet Name"} in preview["suggestedMapping"]
    assert "Outlet Name" not in preview["unmappedColumns"]
    assert preview["suggestionSources"]["Outlet Code"] == "exact"
    assert (
        preview["suggestionSources"]["Outlet Name"] == "normalised"
    )  # DECISIONS: the enum has no "words"

    by_index = start(content, filename="outlets.xlsx", sheet="0").json()["data"]
    assert by_index["sheet"] == "Notes" and by_index["headerRow"] == 1
    assert by_index["missingRequiredFields"] == [
        "dataId",
        "name",
    ]  # said, not a silent empty mapping
    missing = start(content, filename="outlets.xlsx", sheet="Data")
    assert missing.status_code == 400
    assert 'Sheet "Data" not found' in missing.json()["message"]

    mapping = [
        {"id": "dataId", "headerColumn": "Outlet Code"},
        {"id": "name", "headerColumn": "Outlet Name"},
    ]
    # The confirm can name the sheet and header row too: the mapping is checked there.
    wrong = confirm(app_client, auth, by_index["code"], mapping=mapping, unmappedColumns="ignore")
    assert wrong.status_code == 400 and "'Outlet Code' is not in the file" in wrong.text
    moved = confirm(
        app_client,
        auth,
        by_index["code"],
        mapping=mapping,
        unmappedColumns="ignore",
        sheet="Outlet Data",
        headerRow=4,
    ).json()["data"]
    assert (moved["sheet"], moved["headerRow"], moved["createdCount"]) == ("Outlet Data", 4, 10)
    db_names = {k: v["name"] for k, v in records(db).items()}
    assert db_names["OUT-0001"] == "Toko Sumber Rejeki"
    with db.write() as session:  # the second confirm below imports the same rows again
        session.execute(sa.delete(Record))
    done = confirm(
        app_client, auth, preview["code"], mapping=mapping, unmappedColumns="ignore"
    ).json()["data"]
    assert done["ignoredColumns"] == MESSY_HEAD[2:]
    assert (done["sheet"], done["headerRow"], done["rowsAboveHeader"]) == ("Outlet Data", 4, 2)
    saved = records(db)
    assert saved["OUT-0001"]["name"] == "Toko Sumber Rejeki"
    assert "OUT-0009" not in saved  # blank required name: failed, not written


def test_patching_another_sheet_finds_that_sheets_header_row(start, app_client, auth) -> None:
    """Before: the data sheet's detected header row (4) stuck to the draft, so choosing
    the Notes sheet read its row 4 as the header (and found no data under it)."""
    content = (MESSY / "a2_outlets_notes_title_merged.xlsx").read_bytes()
    code = start(content, filename="outlets.xlsx").json()["data"]["code"]
    url = f"{API}/import-jobs/{code}"
    notes = app_client.patch(url, headers=auth, json={"sheet": "Notes"})
    assert notes.status_code == 200, notes.text
    assert (notes.json()["data"]["sheet"], notes.json()["data"]["headerRow"]) == ("Notes", 1)
    told = app_client.patch(url, headers=auth, json={"sheet": "Outlet Data", "headerRow": 4})
    assert told.json()["data"]["headerRow"] == 4
    same = app_client.patch(url, headers=auth, json={"sheet": "Outlet Data"})
    assert same.json()["data"]["headerRow"] == 4  # the same sheet keeps its header row


def test_a_sheet_without_data_rows_is_named(start, tmp_path) -> None:
    header = '<row r="2"><c r="A2" t="inlineStr"><is><t>Outlet Code</t></is></c></row>'
    path = build_xlsx(tmp_path / "o.xlsx", [("Sheet1", worksheet(header))])
    response = start(path.read_bytes(), filename="o.xlsx")
    assert response.status_code == 400
    assert response.json()["message"] == (
        'Sheet "Sheet1" has no data rows under its header (row 2); the workbook has: Sheet1'
    )


@pytest.mark.parametrize("form", [{}, {"headerRow": "3"}, {"sheet": "Sheet1"}])
def test_header_on_row_3_workbook_through_the_vendor_endpoint(upload, monitoring, form) -> None:
    content = (MESSY / "a3_header_on_row3.xlsx").read_bytes()
    response = upload(content, filename="outlets.xlsx", **form)
    record = monitoring(response.json()["data"]["_id"])
    # The header is read on row 3 (not "column 2 has a value but no header"); the file
    # has no Name column, which the job says.
    assert record["status"] == "failed"
    assert record["errorMessage"] == "Required column(s) not found in the file: Name (name)"


# ---- (7) a rule for invalid rows ----------------------------------------------------------


ROWS = [["Outlet Code", "Name"], ["K1", "one"], ["K2", ""], ["K3", "three"], ["K4", ""]]


@pytest.mark.parametrize(
    ("body", "written", "says"),
    [
        ({"invalidRows": "block"}, False, "2 of 4 rows are invalid, more than invalidRows=block"),
        ({"maxInvalid": 1}, False, "more than maxInvalid=1 (1 rows)"),
        ({"maxInvalid": "25%"}, False, "more than maxInvalid=25% (1 rows)"),
        ({"maxInvalid": "50%"}, True, None),
        ({"maxInvalid": 2, "invalidRows": "skip"}, True, None),
        ({"invalidRows": "skip"}, True, None),
    ],
)
def test_invalid_rows_rule_decides_before_anything_is_written(
    start, app_client, auth, db, body, written, says
) -> None:
    code = start(csv_bytes(ROWS)).json()["data"]["code"]
    view = confirm(app_client, auth, code, **body).json()["data"]
    if written:
        assert view["status"] == "Completed" and view["createdCount"] == 2
        assert set(records(db)) == {"K1", "K3"}
        return
    assert view["status"] == "Failed" and view["createdCount"] == 0
    assert records(db) == {}
    record = app_client.get(f"{API}/import-monitoring/{code}", headers=auth).json()["data"]
    assert says in record["errorMessage"] and "nothing was written" in record["errorMessage"]
    assert "row 3: Name is required" in record["errorMessage"]


def test_block_counts_duplicate_keys_and_passes_a_clean_file(start, app_client, auth, db):
    dup = [["Outlet Code", "Name"], ["K1", "one"], ["K1", "again"]]
    code = start(csv_bytes(dup)).json()["data"]["code"]
    view = confirm(app_client, auth, code, invalidRows="block").json()["data"]
    assert view["status"] == "Failed" and records(db) == {}
    code = start(csv_bytes(ROWS[:2])).json()["data"]["code"]
    view = confirm(app_client, auth, code, invalidRows="block").json()["data"]
    assert view["status"] == "Completed" and set(records(db)) == {"K1"}


@pytest.mark.parametrize(
    "body",
    [
        {"invalidRows": "sometimes"},
        {"maxInvalid": -1},
        {"maxInvalid": "five"},
        {"maxInvalid": "150%"},
        {"maxInvalid": True},
        {"unmappedColumns": "maybe"},
    ],
)
def test_bad_rule_values_are_a_400(start, app_client, auth, body) -> None:
    code = start(csv_bytes(ROWS)).json()["data"]["code"]
    response = confirm(app_client, auth, code, **body)
    assert response.status_code == 400 and response.json()["failedCode"] == "import-003"
    assert confirm(app_client, auth, code).status_code == 201


def test_two_draft_changes_at_once_both_hold(start, db: Database) -> None:
    """Two changes of one draft sent together (the values step in one tab, the locale in
    another; two API clients): each reads the draft, then writes it whole. Before, the
    later write put back what the earlier one had changed; now a change that finds the
    draft changed meanwhile is made again on top of it."""
    import threading

    from loadbay.auth import Principal
    from loadbay.imports import draft
    from loadbay.imports.bodies import draft_change
    from loadbay.imports.models import ImportJob

    content = (MESSY / "a2_outlets_notes_title_merged.xlsx").read_bytes()
    code = start(content, filename="outlets.xlsx").json()["data"]["code"]
    with db.read() as session:
        job = session.get(ImportJob, code)
        assert job is not None
        who = Principal(job.organization_id, "a@x.test", frozenset({"import"}))
    together = threading.Barrier(2)
    failed: list[BaseException] = []

    def change(body: dict[str, Any]) -> None:
        together.wait()
        try:
            draft.change_draft(who, code, draft_change(body))
        except BaseException as exc:  # reported below
            failed.append(exc)

    threads = [
        threading.Thread(
            target=change, args=({"valueMap": {"category": {"mini market": "Retail"}}},)
        ),
        threading.Thread(target=change, args=({"locale": "id-ID"},)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not failed, failed
    with db.read() as session:
        job = session.get(ImportJob, code)
        assert job is not None
        options = job.options or {}
    assert options.get("valueMap") == {"category": {"mini market": "Retail"}}
    assert (options.get("locale") or {}).get("tag") == "id-ID", options.get("locale")
