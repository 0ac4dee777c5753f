"""The console's export page, saved field choices and organisation settings over plain
HTTP: what the server does whatever the browser shows."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from loadbay.catalog.demo import seed_demo
from loadbay.console.session import issue_link
from loadbay.db import Database


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


@pytest.fixture
def demo(db: Database) -> dict[str, Any]:
    with db.write() as session:
        return seed_demo(session, "acme")


def _sign_in(client: TestClient, org: str, perms: list[str], email: str = "ana@acme.test") -> None:
    link = issue_link(org, email, perms, client.app.state.settings.secret)
    answer = client.get(link, follow_redirects=False)
    assert answer.status_code == 303, answer.text


def test_a_small_export_downloads_at_once_with_the_chosen_fields_and_filter(
    app_client: TestClient, demo: dict[str, Any]
) -> None:
    _sign_in(app_client, demo["organizationId"], ["export"])
    target = f"task:{demo['flowId']}"
    page = app_client.get("/exports/new", params={"target": target})
    assert page.status_code == 200 and 'name="status" value="DONE"' in page.text
    form = {"csrf": _csrf(page.text), "target": target, "format": "csv", "status": "DONE",
            "fields": ["title", "status", "orderNumber"]}  # fmt: skip
    answer = app_client.post("/exports/new", data=form, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    assert re.fullmatch(r"/exports/[0-9a-f]{24}/file", answer.headers["location"])
    got = app_client.get(answer.headers["location"])
    assert got.status_code == 200
    assert "attachment" in got.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(got.content.decode("utf-8-sig"))))
    assert rows[0] == ["Title", "Status", "Order Number"]
    assert len(rows) > 1 and {r[1] for r in rows[1:]} == {"DONE"}
    # Logged like any export, and nobody else's to download.
    log = app_client.get("/exports")
    assert "Delivery" in log.text and "Ready" in log.text
    app_client.cookies.clear()
    _sign_in(app_client, demo["organizationId"], ["export"], "bo@acme.test")
    assert app_client.get(answer.headers["location"]).status_code == 404


def test_an_unknown_field_or_no_field_is_a_clear_400(
    app_client: TestClient, demo: dict[str, Any]
) -> None:
    _sign_in(app_client, demo["organizationId"], ["export"])
    target = f"datasource:{demo['dataTypeId']}"
    csrf = _csrf(app_client.get("/exports/new", params={"target": target}).text)
    base = {"csrf": csrf, "target": target, "format": "xlsx"}
    none = app_client.post("/exports/new", data=base)
    assert none.status_code == 400 and "Pick at least one field" in none.text
    bad = app_client.post("/exports/new", data={**base, "fields": ["name", "nope"]})
    assert bad.status_code == 400 and "Unknown field: nope" in bad.text
    assert 'value="name" checked' in bad.text  # what was picked stays picked


def test_a_saved_field_choice_is_an_export_config_and_applies_again(
    app_client: TestClient, demo: dict[str, Any], auth: dict[str, str]
) -> None:
    _sign_in(app_client, demo["organizationId"], ["export"])
    target = f"datasource:{demo['dataTypeId']}"
    csrf = _csrf(app_client.get("/exports/new", params={"target": target}).text)
    form = {"csrf": csrf, "target": target, "fields": ["dataId", "name"], "configName": "Names"}
    saved = app_client.post("/exports/configs", data=form, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    page = app_client.get(saved.headers["location"])
    assert "Saved the field choice “Names”: 2 fields" in page.text
    assert 'value="name" checked' in page.text and 'value="ownerPhone" checked' not in page.text
    configs = app_client.get("/api/v3/export-configs", headers=auth).json()["data"]["data"]
    assert [(c["name"], [f["id"] for f in c["fields"]]) for c in configs] == [
        ("Names", ["dataId", "name"])
    ]
    assert configs[0]["dataTypeId"] == demo["dataTypeId"]
    again = app_client.post("/exports/configs", data=form)
    assert again.status_code == 400 and "The name has already been taken." in again.text


def test_only_an_admin_changes_the_locale_and_it_persists(
    app_client: TestClient, demo: dict[str, Any], auth: dict[str, str]
) -> None:
    org = demo["organizationId"]
    _sign_in(app_client, org, ["import", "export"])
    assert app_client.get("/settings").status_code == 403
    csrf = _csrf(app_client.get("/").text)
    refused = app_client.post("/settings", data={"csrf": csrf, "locale": "id-ID"})
    assert refused.status_code == 403 and "admin permission" in refused.text
    assert (
        app_client.get("/api/v3/organization/settings", headers=auth).json()["data"]["locale"]
        is None
    )

    app_client.cookies.clear()
    _sign_in(app_client, org, ["admin"], "root@acme.test")
    page = app_client.get("/settings")
    form = {"csrf": _csrf(page.text), "locale": "id-ID", "decimalSeparator": ".",
            "thousandsSeparator": ",", "dateOrder": "DMY", "currencySymbols": "",
            "maxConcurrentChunks": ""}  # fmt: skip
    answer = app_client.post("/settings", data=form, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/settings?saved=1"
    stored = app_client.get("/api/v3/organization/settings", headers=auth).json()["data"]
    # The form still showed the old separators: a new locale brings its own.
    assert stored["locale"] == "id-ID" and stored["decimalSeparator"] == ","
    assert stored["thousandsSeparator"] == "." and stored["currencySymbols"] == ["Rp", "IDR"]
    bad = app_client.post(
        "/settings", data={**form, "decimalSeparator": ".", "thousandsSeparator": "."}
    )
    assert bad.status_code == 400
    assert "The decimal separator must be set and differ from the thousands separator" in bad.text
