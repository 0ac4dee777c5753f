"""Issue 10 items 5, 6 and 8 on every engine: organisation settings and locales, value
maps for the values that do not fit, and the memory of confirmed mappings."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.imports.conftest import csv_bytes
from tests.imports.test_review import API, confirm, records
from tests.imports.test_review import start as start

MESSY = [
    ["Outlet Code", "Name", "Category", "Credit Limit", "Open Since", "Active", "Phone"],
    ["K1", "Toko A", "mini market", "Rp 1.250.000", "15-Aug-2024", "ya", "(021) 555-0123"],
    ["K2", "Toko B", "RETAIL ", "12,5", "Aug 15, 2024", "Tidak", "+62 812-3456-7890"],
    ["K3", "Toko C", "Whole sale", "Rp1.500.000,00", "15.08.2024", "✓", "N/A"],
    ["K4", "Toko D", "", "-", "2024-08-15 10:30:00", "Y", "0812"],
]


def admin(token_for: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(perms='import,export,admin')}"}


def test_organization_settings_admin_to_change(app_client: TestClient, auth, token_for) -> None:
    got = app_client.get(f"{API}/organization/settings", headers=auth)
    assert got.status_code == 200 and got.json()["data"]["locale"] is None
    denied = app_client.put(f"{API}/organization/settings", headers=auth, json={"locale": "id"})
    assert denied.status_code == 403
    put = app_client.put(
        f"{API}/organization/settings", headers=admin(token_for), json={"locale": "id"}
    )
    assert put.status_code == 200, put.text
    assert put.json()["data"] == {
        "locale": "id-ID", "decimalSeparator": ",", "thousandsSeparator": ".",
        "dateOrder": "DMY", "currencySymbols": ["Rp", "IDR"], "maxConcurrentChunks": None,
    }  # fmt: skip
    for bad in ({"dateOrder": "DDMM"}, {"locale": "xx-YY"}, {"colour": 1},
                {"decimalSeparator": "."}, {"maxConcurrentChunks": 0}):  # fmt: skip
        answer = app_client.put(f"{API}/organization/settings", headers=admin(token_for), json=bad)
        assert answer.status_code == 400, bad
        assert answer.json()["failedCode"] == "organization-003"


def test_vendor_import_reads_a_locale_only_when_asked(upload, monitoring, db) -> None:
    rows = csv_bytes([[c for i, c in enumerate(r) if i != 2] for r in MESSY[:3]])
    plain = monitoring(upload(rows).json()["data"]["_id"])
    assert plain["status"] == "failed"  # "Rp 1.250.000" is not a number without a locale
    done = monitoring(upload(rows, locale="id-ID").json()["data"]["_id"])
    assert done["status"] == "success", done
    stored = records(db)
    assert stored["K1"]["creditLimit"] == 1250000 and stored["K1"]["openSince"] == "2024-08-15"
    assert stored["K1"]["active"] is True and stored["K2"]["creditLimit"] == 12.5
    assert stored["K2"]["active"] is False and stored["K1"]["phone"] == "(021) 555-0123"


def test_the_import_job_flow_applies_the_organisation_locale(
    start, app_client, auth, token_for, db
) -> None:
    app_client.put(f"{API}/organization/settings", headers=admin(token_for), json={"locale": "id"})
    preview = start(csv_bytes(MESSY)).json()["data"]
    assert preview["locale"] == "id-ID"
    first = preview["previewRows"][0]
    assert first["values"]["creditLimit"] == 1250000
    assert [e["column"] for e in first["errors"]] == ["Category"]
    values = app_client.get(f"{API}/import-jobs/{preview['code']}/values", headers=auth)
    assert values.status_code == 200, values.text
    assert values.json()["data"] == [
        {"field": "category", "value": "mini market", "count": 1, "suggestion": None},
        {"field": "category", "value": "Whole sale", "count": 1, "suggestion": "Wholesale"},
    ]
    answer = confirm(
        app_client, auth, preview["code"], unmappedColumns="ignore",
        valueMap={"category": {"Whole sale": "Wholesale", "mini market": "Retail",
                               "": "Retail"}},
    )  # fmt: skip
    assert answer.status_code in (201, 202), answer.text
    stored = records(db)
    assert {k: v["category"] for k, v in stored.items()} == {
        "K1": "Retail",
        "K2": "Retail",
        "K3": "Wholesale",
        "K4": "Retail",
    }
    assert stored["K3"].get("phone") is None and stored["K4"].get("creditLimit") is None
    assert stored["K4"]["openSince"] == "2024-08-15"  # its time is a warning, not lost


def test_a_value_map_that_maps_to_a_bad_value_is_refused(start, app_client, auth) -> None:
    code = start(csv_bytes(MESSY[:2])).json()["data"]["code"]
    answer = confirm(app_client, auth, code, valueMap={"category": {"mini market": "Shop"}})
    assert answer.status_code == 400
    assert "valueMap.category['mini market'] → 'Shop'" in answer.json()["message"]


def test_memory_preview_and_plain_import_agree(start, upload, app_client, auth, monitoring, db):
    """Before: the preview suggested the remembered mapping, the plain import (the CLI's
    /data/import with useMemory=true) ignored it and stored records without the field."""
    rows = [["Kode", "Nama", "Jenis"], ["K1", "Toko A", "mini market"]]
    code = start(csv_bytes(rows)).json()["data"]["code"]
    mapping = [
        {"id": "dataId", "headerColumn": "Kode"},
        {"id": "name", "headerColumn": "Nama"},
        {"id": "category", "headerColumn": "Jenis"},
    ]
    answer = confirm(
        app_client, auth, code, mapping=mapping, valueMap={"category": {"mini market": "Retail"}}
    )
    assert answer.status_code in (201, 202), answer.text
    again = [["Kode", "Nama", "Jenis"], ["K2", "Toko B", "mini market"]]
    preview = start(csv_bytes(again)).json()["data"]
    assert preview["suggestionSources"]["Jenis"] == "memory"
    assert preview["valueMap"] == {"category": {"mini market": "Retail"}}
    job = upload(csv_bytes(again), useMemory="true").json()["data"]["_id"]
    assert monitoring(job)["status"] == "success"
    assert records(db)["K2"]["category"] == "Retail"
    plain = upload(csv_bytes([["Kode", "Nama"], ["K3", "Toko C"]])).json()["data"]["_id"]
    assert monitoring(plain)["status"] == "failed"  # the vendor's default: no memory
