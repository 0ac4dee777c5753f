"""`POST /data/export`: query parameters, errors, and each format read back."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

from loadbay.auth import issue_token
from tests.conftest import AppFactory
from tests.exports.conftest import (
    DATA_HEADERS,
    OUTLETS,
    Exporter,
    Seeded,
    read_csv,
    read_xlsx,
    read_zip,
)


def _refused(answer: Any, status: int, code: str, message: str | None = None) -> str:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["status"] is False
    assert body["failedCode"] == code
    # the vendor's envelope; a 401 adds only a `detail` saying which fault
    assert set(body) - ({"detail"} if status == 401 else set()) == {
        "status",
        "message",
        "failedCode",
    }
    if message is not None:
        assert body["message"] == message
    return str(body["message"])


def test_xlsx_answer_and_typed_cells(seeded: Seeded, exporter: Exporter) -> None:
    body = exporter.ok("data", download="xlsx", dataTypeId=seeded.outlet)
    assert list(body) == ["status", "message", "total_data_be", "last_id", "last_field", "data"]
    assert body["status"] is True and body["message"] == "Success"
    assert body["total_data_be"] == 5
    assert body["last_id"] == seeded.records[0]  # default order: createdTime desc
    assert body["last_field"] == "active"
    data = body["data"]
    assert list(data) == ["time", "organizationId", "reportType", "link", "status"]
    assert isinstance(data["time"], int)
    assert data["organizationId"] == seeded.org
    assert data["reportType"] == "data" and data["status"] == "Done"
    assert data["link"].endswith(".xlsx")
    rows = read_xlsx(exporter.download(data["link"]))
    assert rows[0] == DATA_HEADERS
    assert [r[0] for r in rows[1:]] == seeded.records[::-1]
    by_code = {r[1]: r for r in rows[1:]}
    first = by_code["007"]  # leading zeros kept, formula text stays text
    assert first[3] == "Jakarta" and first[2] == seeded.hub
    assert first[4] == datetime(2024, 5, 1, 8, 0) and first[5] == datetime(2024, 5, 1, 8, 0, 30)
    assert first[6:] == [
        "=1+2", "0812345", "Retail", date(2020, 1, 31), datetime(2024, 4, 30, 10, 15),
        1500.5, 3, True,
    ]  # fmt: skip
    second = by_code["0010"]
    assert second[6] == "+62 shop" and second[7] == "+62812"
    assert second[10] == "2024-04-30T10:15:00+07:00"  # an offset has no serial: text
    assert second[11] == -5 and second[13] is False
    assert by_code["A-3"][7:] == ["", "Retail", "", "", "", "", ""]  # missing values: empty
    assert by_code["A-4"][6] == "@SUM(A1)" and by_code["A-4"][9] == date(2024, 2, 29)
    assert by_code["A-5"][3] == "Bandung" and by_code["A-5"][6] == 'Toko Ümlaut, "quoted"'


def test_xlsx_has_no_formula(seeded: Seeded, exporter: Exporter) -> None:
    import io
    import zipfile

    body = exporter.ok("data", download="xlsx", dataTypeId=seeded.outlet)
    with zipfile.ZipFile(io.BytesIO(exporter.download(body["data"]["link"]))) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet and "<f " not in sheet
    assert "=1+2" in sheet and 't="inlineStr"' in sheet


def test_csv_escapes_formulas_and_keeps_text(seeded: Seeded, exporter: Exporter) -> None:
    body = exporter.ok("data", download="csv", dataTypeId=seeded.outlet)
    assert body["data"]["link"].endswith(".csv")
    rows = read_csv(exporter.download(body["data"]["link"]))
    assert rows[0] == DATA_HEADERS
    by_code = {r[1]: r for r in rows[1:]}
    assert by_code["007"][4:] == [
        "2024-05-01 08:00:00", "2024-05-01 08:00:30", "'=1+2", "0812345", "Retail",
        "2020-01-31", "2024-04-30T10:15:00", "1500.5", "3", "true",
    ]  # fmt: skip
    assert by_code["0010"][6:8] == ["'+62 shop", "+62812"]  # a phone number is not escaped
    assert by_code["0010"][11] == "-5"  # a number is not escaped
    assert by_code["A-3"][6] == "'-minus"
    assert by_code["A-4"][6] == "'@SUM(A1)"
    assert by_code["A-5"][6] == 'Toko Ümlaut, "quoted"'


def test_json_zip_parts(seeded: Seeded, auth: dict[str, str], app_for: AppFactory) -> None:
    exporter = Exporter(app_for(json_export_part_rows=2), auth)  # read by the worker process
    body = exporter.ok("data", download="json", dataTypeId=seeded.outlet)
    link = body["data"]["link"]
    assert link.split("?")[0].endswith(".zip")
    names, records = read_zip(exporter.download(link))
    stem = link.split("?")[0].rsplit("/", 1)[-1][: -len(".zip")]
    assert names == [f"{stem}_1.json", f"{stem}_2.json", f"{stem}_3.json"]
    assert [r["_id"] for r in records] == seeded.records[::-1]
    oldest = records[-1]
    assert oldest == {
        "_id": seeded.records[0], "dataId": "007", "hubId": seeded.hub, "hub": "Jakarta",
        "createdTime": "2024-05-01 08:00:00", "updatedTime": "2024-05-01 08:00:30",
        "name": "=1+2", "phone": "0812345", "category": "Retail", "openSince": "2020-01-31",
        "lastVisit": "2024-04-30T10:15:00", "creditLimit": 1500.5, "visits": 3, "active": True,
    }  # fmt: skip
    assert records[2]["phone"] is None


def test_fields_choose_and_order_columns(seeded: Seeded, exporter: Exporter) -> None:
    body = exporter.ok("data", download="csv", dataTypeId=seeded.outlet, fields="name,dataId,hub")
    assert body["last_field"] == "hub"
    rows = read_csv(exporter.download(body["data"]["link"]))
    assert rows[0] == ["Name", "Outlet Code", "Hub"]
    assert rows[-1] == ["'=1+2", "007", "Jakarta"]


@pytest.mark.parametrize(
    ("fields", "named"), [("name,nope", "Unknown field: nope"), ("x,y", "Unknown fields: x, y")]
)
def test_unknown_field(seeded: Seeded, exporter: Exporter, fields: str, named: str) -> None:
    answer = exporter.data(download="xlsx", dataTypeId=seeded.outlet, fields=fields)
    _refused(answer, 400, "export-003", named)


@pytest.mark.parametrize(
    ("sort_by", "order", "expected"),
    [
        ("creditLimit", "asc", ["0010", "A-4", "A-5", "007", "A-3"]),  # NULLs last
        ("creditLimit", "desc", ["007", "A-5", "A-4", "0010", "A-3"]),  # NULLs last here too
        ("visits", "desc", ["A-4", "A-5", "007", "0010", "A-3"]),
        ("dataId", "desc", ["A-5", "A-4", "A-3", "007", "0010"]),
        ("openSince", "asc", ["0010", "007", "A-4", "A-5", "A-3"]),
        ("createdTime", "asc", ["007", "0010", "A-3", "A-4", "A-5"]),
        ("updatedTime", "desc", ["A-5", "A-4", "A-3", "0010", "007"]),
    ],
)
def test_sort(
    seeded: Seeded, exporter: Exporter, sort_by: str, order: str, expected: list[str]
) -> None:
    body = exporter.ok(
        "data", download="json", dataTypeId=seeded.outlet, sortBy=sort_by, sortOrder=order
    )
    _, records = read_zip(exporter.download(body["data"]["link"]))
    assert [r["dataId"] for r in records] == expected
    assert body["last_id"] == records[-1]["_id"]


@pytest.mark.parametrize(
    ("sort_by", "order", "key"),
    [
        ("hub", "asc", lambda i, rid: ((i == 4 and "Bandung") or "Jakarta", rid)),
        ("category", "desc", lambda i, rid: (OUTLETS[i][3], rid)),
        ("_id", "asc", lambda i, rid: (rid,)),
    ],
)
def test_sort_ties_break_by_id(
    seeded: Seeded, exporter: Exporter, sort_by: str, order: str, key: Any
) -> None:
    body = exporter.ok("data", download="json", sortBy=sort_by, sortOrder=order)
    _, records = read_zip(exporter.download(body["data"]["link"]))
    keyed = sorted(range(5), key=lambda i: key(i, seeded.records[i]), reverse=order == "desc")
    assert [r["_id"] for r in records] == [seeded.records[i] for i in keyed]


def test_bad_sort(seeded: Seeded, exporter: Exporter) -> None:
    answer = exporter.data(download="xlsx", dataTypeId=seeded.outlet, sortBy="color")
    _refused(answer, 400, "export-003", "Unknown sortBy field: color")
    answer = exporter.data(download="xlsx", dataTypeId=seeded.outlet, sortOrder="up")
    assert "sortOrder" in _refused(answer, 400, "export-017")


@pytest.mark.parametrize(
    ("page", "limit", "expected"),
    [(1, 2, [4, 3]), (2, 2, [2, 1]), (3, 2, [0]), (4, 2, []), (None, 3, [4, 3, 2]), (2, 10, [])],
)
def test_page_and_limit_window(
    seeded: Seeded, exporter: Exporter, page: int | None, limit: int, expected: list[int]
) -> None:
    params: dict[str, Any] = {"download": "json", "dataTypeId": seeded.outlet, "limit": limit}
    if page is not None:
        params["page"] = page
    body = exporter.ok("data", **params)
    _, records = read_zip(exporter.download(body["data"]["link"]))
    assert [r["_id"] for r in records] == [seeded.records[i] for i in expected]
    assert body["total_data_be"] == len(expected)
    if not expected:
        assert "last_id" not in body


def test_page_without_limit_takes_everything(seeded: Seeded, exporter: Exporter) -> None:
    body = exporter.ok("data", download="csv", dataTypeId=seeded.outlet, page=3)
    assert body["total_data_be"] == 5


@pytest.mark.parametrize(
    ("name", "value"), [("page", "0"), ("page", "x"), ("limit", "-1"), ("limit", "1.5")]
)
def test_bad_paging(seeded: Seeded, exporter: Exporter, name: str, value: str) -> None:
    answer = exporter.data(download="xlsx", **{name: value})
    assert name in _refused(answer, 400, "export-003")


def test_a_limit_over_the_export_limit(seeded: Seeded, exporter: Exporter) -> None:
    answer = exporter.data(download="xlsx", limit="1000001")
    assert "limit" in _refused(answer, 400, "export-040")  # "limit exceeded", not a format error
    answer = exporter.data(download="xlsx", page="1000001")
    assert "page" in _refused(answer, 400, "export-003")


def test_hub_filter(seeded: Seeded, exporter: Exporter) -> None:
    body = exporter.ok("data", download="json", hubId=seeded.hub2)
    _, records = read_zip(exporter.download(body["data"]["link"]))
    assert [r["dataId"] for r in records] == ["A-5"]


@pytest.mark.parametrize("param", ["hubId", "dataTypeId", "exportConfigId"])
def test_unknown_ids(seeded: Seeded, exporter: Exporter, param: str) -> None:
    answer = exporter.data(download="xlsx", **{param: "6650a0a0a0a0a0a0a0a0a0a0"})
    _refused(answer, 400, "export-033", f"Unknown {param}: 6650a0a0a0a0a0a0a0a0a0a0")


def test_other_organisations_ids_are_unknown(
    seeded: Seeded, exporter: Exporter, token_for: Any
) -> None:
    other = {"Authorization": f"Bearer {token_for('globex', 'x@globex.test')}"}
    answer = exporter.data(download="xlsx", dataTypeId=seeded.outlet, headers=other)
    _refused(answer, 400, "export-033")
    body = exporter.data(download="json", headers=other).json()
    assert body["total_data_be"] == 0


def test_without_data_type_exports_every_record(seeded: Seeded, exporter: Exporter) -> None:
    body = exporter.ok("data", download="csv")
    rows = read_csv(exporter.download(body["data"]["link"]))
    assert rows[0] == DATA_HEADERS and len(rows) == 6


def test_download_is_required(seeded: Seeded, exporter: Exporter) -> None:
    answer = exporter.data(dataTypeId=seeded.outlet)
    _refused(answer, 400, "export-001", "The download parameter is required.")


@pytest.mark.parametrize("value", ["pdf", "XLS", " "])
def test_bad_download(seeded: Seeded, exporter: Exporter, value: str) -> None:
    answer = exporter.data(download=value)
    if value.strip():
        assert "download" in _refused(answer, 400, "export-017")
    else:
        _refused(answer, 400, "export-001")


def test_download_is_case_insensitive(seeded: Seeded, exporter: Exporter) -> None:
    assert exporter.ok("data", download="CSV")["data"]["link"].split("?")[0].endswith(".csv")


def test_bad_background(seeded: Seeded, exporter: Exporter) -> None:
    answer = exporter.data(download="xlsx", background="maybe")
    assert "background" in _refused(answer, 400, "export-003")


def test_permission(seeded: Seeded, exporter: Exporter, token_for: Any) -> None:
    reader = {"Authorization": f"Bearer {token_for(perms='import')}"}
    answer = exporter.data(download="xlsx", headers=reader)
    _refused(answer, 403, "auth-003", "You do not have permission to export data")
    answer = exporter.client.post("/api/v3/data/export?download=xlsx")
    _refused(answer, 401, "auth-001")
    admin = {"Authorization": f"Bearer {issue_token(seeded.org, 'boss@acme.test', ['admin'])}"}
    assert exporter.data(download="xlsx", headers=admin).status_code == 200


def test_export_limit(seeded: Seeded, auth: dict[str, str], app_for: AppFactory) -> None:
    exporter = Exporter(app_for(max_export_rows=4), auth)
    answer = exporter.data(download="xlsx", dataTypeId=seeded.outlet)
    assert "5" in _refused(answer, 400, "export-040")
    answer = exporter.data(download="xlsx", dataTypeId=seeded.outlet, background=True)
    _refused(answer, 400, "export-040")
    # a window within the limit is fine
    assert exporter.ok("data", download="xlsx", limit=4)["total_data_be"] == 4


def test_direct_limit_points_to_background(
    seeded: Seeded, auth: dict[str, str], app_for: AppFactory
) -> None:
    exporter = Exporter(app_for(direct_export_max_rows=4), auth)
    answer = exporter.data(download="csv", dataTypeId=seeded.outlet)
    assert "background=true" in _refused(answer, 400, "export-040")
    body = exporter.ok("data", download="csv", dataTypeId=seeded.outlet, background=True)
    assert body["data"]["status"] == "Processing"


def test_direct_concurrency_is_capped(seeded: Seeded, exporter: Exporter) -> None:
    from loadbay.exports.service import direct_slots

    slots = direct_slots()
    taken = 0
    while slots.acquire(blocking=False):
        taken += 1
    try:
        answer = exporter.data(download="csv")
        assert "background" in _refused(answer, 429, "export-036")
        assert exporter.ok("data", download="csv", background=True)["data"]["status"]
    finally:
        for _ in range(taken):
            slots.release()
    assert exporter.data(download="csv").status_code == 200


def test_trailing_slash(seeded: Seeded, exporter: Exporter) -> None:
    answer = exporter.client.post(
        "/api/v3/data/export/", params={"download": "csv"}, headers=exporter.auth
    )
    assert answer.status_code == 200
