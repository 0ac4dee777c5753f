"""Odd files get the right words: each fixture is generated here, each case checks the
outcome, the message, and that the server still answers `/healthz` afterwards."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from loadbay.catalog.models import Record
from loadbay.db import Database
from tests.imports.conftest import csv_bytes

READS = "loadbay reads CSV, TSV, XLSX, XLS, JSON and NDJSON"
VENDOR_TYPE_ANSWER = {
    "status": False,
    "message": "The file must be a file of type: csv, xls, xlsx.",
    "failedCode": "import-002",
}
HEADER = ["Outlet Code", "Name"]
NAMES = ["Café", "Ünïcødé 名前", "Ωmega"]


def healthy(client: TestClient) -> None:
    assert client.get("/healthz").status_code == 200


def stored(db: Database) -> dict[str, Any]:
    with db.read() as session:
        return {r.data_id: r.data.get("name") for r in session.scalars(sa.select(Record))}


def failed_lines(client: TestClient, job: dict[str, Any]) -> list[str]:
    link = job["fileFailedImported"]
    response = client.get(link.split("127.0.0.1:8000", 1)[1])
    assert response.status_code == 200
    return response.content.decode("utf-8-sig").splitlines()


@pytest.mark.parametrize("filler_rows", [0, 5000], ids=["in-the-first-64kb", "past-64kb"])
def test_a_nul_byte_fails_only_its_row_naming_the_cell(
    upload, monitoring, app_client, db, filler_rows: int
) -> None:
    rows = [HEADER] + [[f"F{i}", f"filler name {i:06d}"] for i in range(filler_rows)]
    rows += [["N1", "Ac\x00me"], ["N2", "Fine"]]
    content = csv_bytes(rows)
    assert (content.index(b"\x00") < 65536) == (filler_rows == 0)
    response = upload(content)
    assert response.status_code == 200, response.text
    job = monitoring(response.json()["data"]["_id"])
    assert job["status"] == "partially", job
    assert (job["totalValid"], job["totalInvalid"]) == (filler_rows + 1, 1)
    bad_row = filler_rows + 2  # the file's row of N1: after the header and the fillers
    line = next(x for x in failed_lines(app_client, job) if x.startswith(f"{bad_row},"))
    assert "Name: contains a NUL byte (character 0) at position 3" in line
    assert stored(db)["N2"] == "Fine" and "N1" not in stored(db)
    healthy(app_client)


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [
        ("utf-16-le", b"\xff\xfe"),
        ("utf-16-be", b"\xfe\xff"),
        ("utf-16-le", b""),
        ("utf-16-be", b""),
        ("utf-32-le", b"\xff\xfe\x00\x00"),
        ("utf-32-be", b"\x00\x00\xfe\xff"),
        ("utf-32-le", b""),
        ("utf-32-be", b""),
    ],
)
def test_utf16_and_utf32_with_or_without_bom_are_read(
    upload, monitoring, app_client, db, encoding: str, bom: bytes
) -> None:
    rows = [HEADER] + [[f"U{i}", name] for i, name in enumerate(NAMES)]
    content = bom + csv_bytes(rows).decode().encode(encoding)
    response = upload(content)
    assert response.status_code == 200, response.text
    job = monitoring(response.json()["data"]["_id"])
    assert job["status"] == "success", job
    assert stored(db) == {f"U{i}": name for i, name in enumerate(NAMES)}
    healthy(app_client)


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buf.getvalue()


PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" + b"\x00" * 200
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
NOT_TEXT = bytes(range(256)) * 20
ODD = [
    ("report.csv", PDF, "found a PDF document"),
    ("outlets.xlsx", PDF, "found a PDF document"),
    ("outlets.csv", PNG, "found a PNG image"),
    ("outlets.csv", _zip({"notes.txt": b"hello"}), "found a ZIP archive that is not an XLSX"),
    (
        "outlets.xlsx",
        _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w/>"}),
        "found a Word document (DOCX)",
    ),
    ("outlets.csv", NOT_TEXT, "found binary data, not text"),
    ("outlets.xlsx", csv_bytes([HEADER, ["1", "a"]]), "found text, not an XLSX workbook"),
    ("outlets.xls", b"<html><table><tr><td>1</td></tr></table></html>", "found an HTML page"),
]


@pytest.mark.parametrize(
    "path", ["/api/v3/data/import", "/api/v3/tasks/import", "/api/v3/import-jobs"]
)
@pytest.mark.parametrize(
    ("filename", "content", "found"), ODD, ids=[f"{n}:{f[6:22]}" for n, _, f in ODD]
)
def test_a_file_that_is_not_a_table_keeps_the_vendor_answer_and_says_what_it_is(
    upload, app_client, catalog, path: str, filename: str, content: bytes, found: str
) -> None:
    form = {}
    if path.endswith("import-jobs"):  # the preview flow, for a data type
        form = {"dataTypeId": catalog["outlet"], "hubId": catalog["hub"], "flowId": ""}
    response = upload(content, filename, path=path, **form)
    assert response.status_code == 422, response.text
    body = response.json()
    assert {k: body[k] for k in VENDOR_TYPE_ANSWER} == VENDOR_TYPE_ANSWER
    assert set(body) == {*VENDOR_TYPE_ANSWER, "detail"}
    assert body["detail"].startswith(found), body["detail"]
    assert body["detail"].endswith(READS)
    healthy(app_client)


def test_a_json_object_or_array_for_a_field_fails_its_row_saying_what_it_got(
    upload, monitoring, app_client, db
) -> None:
    rows = [
        {"Outlet Code": "J1", "Name": {"first": "Toko"}},
        {"Outlet Code": "J2", "Name": "Fine", "Credit Limit": [1, 2]},
        {"Outlet Code": "J3", "Name": "Also fine", "Credit Limit": 5},
    ]
    response = upload(json.dumps(rows).encode(), "outlets.json")
    assert response.status_code == 200, response.text
    job = monitoring(response.json()["data"]["_id"])
    assert job["status"] == "partially", job
    assert (job["totalValid"], job["totalInvalid"]) == (1, 2)
    failed = {row["Outlet Code"]: row for row in json.loads(app_client.get(
        job["fileFailedImported"].split("127.0.0.1:8000", 1)[1]).content)}  # fmt: skip
    assert failed["J1"]["Error"] == "Name: expected text, got an object"
    assert failed["J1"]["Name"] == '{"first":"Toko"}'  # written back as it came
    assert failed["J2"]["Error"] == "Credit Limit: expected a number, got an array"
    assert stored(db) == {"J3": "Also fine"}
    healthy(app_client)
