"""The export page, saved field choices, the export log and the organisation settings in
a real browser; axe-core and both widths on every screen.

The test server downloads exports of up to 20 rows at once (conftest): the demo's
filtered tasks are such an export, its 50 outlets run in the background."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.console.conftest import Server, check_screen

pytestmark = pytest.mark.slow


def sign_in(page: Any, server: Server, email: str, perms: str = "import,export,admin") -> None:
    page.goto(server.link("acme", email, perms))
    expect(page.get_by_role("heading", level=1)).to_have_text("acme")


def pick_only(page: Any, *titles: str) -> None:
    fields = page.get_by_role("group", name="Fields")
    for box in fields.get_by_role("checkbox").all():
        box.uncheck()
    for title in titles:
        fields.get_by_label(title, exact=True).check()


def read_csv(path: str | Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(Path(path).read_text(encoding="utf-8-sig"))))


def test_export_tasks_with_chosen_fields_and_a_status_filter_downloads_at_once(
    page: Any, server: Server
) -> None:
    sign_in(page, server, "eve@acme.test", "export")
    page.get_by_role("link", name="Export", exact=True).click()
    page.get_by_label("Delivery (tasks of this flow)").check()
    page.get_by_role("button", name="Next: pick fields").click()
    expect(page.get_by_text("Up to 20 rows download at once")).to_be_visible()
    pick_only(page, "Title", "Status", "Order Number")
    page.get_by_role("group", name=re.compile("^With status")).get_by_label(
        "Done", exact=True
    ).check()
    page.get_by_label("From hub").select_option(label="Jakarta")
    page.get_by_label("CSV").check()
    check_screen(page, "20-export-tasks")
    with page.expect_download() as waiting:
        page.get_by_role("button", name="Start the export").click()
    saved = waiting.value.path()
    assert saved is not None
    rows = read_csv(saved)
    assert rows[0] == ["Title", "Status", "Order Number"]
    assert 1 < len(rows) <= 21 and {r[1] for r in rows[1:]} == {"DONE"}
    # The page stays as it was, and the export is in the log, ready.
    expect(page.get_by_label("Order Number", exact=True)).to_be_checked()
    page.get_by_role("link", name="Export log", exact=True).click()
    expect(page.get_by_role("row", name=re.compile("Delivery"))).to_contain_text("Ready")


def test_save_a_field_choice_reuse_it_and_export_in_the_background(
    page: Any, server: Server
) -> None:
    sign_in(page, server, "fay@acme.test", "export")
    page.goto(server.url + "/exports/new")
    page.get_by_label("Outlet (records)").check()
    page.get_by_role("button", name="Next: pick fields").click()
    pick_only(page, "Data ID", "Name", "Owner Phone")
    page.get_by_label("Save these fields as").fill("Phone list")
    page.get_by_role("button", name="Save field choice").click()
    expect(page.get_by_role("status")).to_contain_text("Saved the field choice “Phone list”")
    expect(page.get_by_label("Credit Limit", exact=True)).not_to_be_checked()
    check_screen(page, "21-export-config-saved")

    page.get_by_role("link", name="Choose something else").click()
    page.get_by_label("Outlet (records)").check()
    page.get_by_role("button", name="Next: pick fields").click()
    expect(page.get_by_label("Credit Limit", exact=True)).to_be_checked()  # a fresh choice
    page.get_by_label("Saved field choice").select_option(label="Phone list")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("status")).to_contain_text("Applied the field choice “Phone list”")
    expect(page.get_by_label("Credit Limit", exact=True)).not_to_be_checked()
    expect(page.get_by_label("Owner Phone", exact=True)).to_be_checked()
    page.get_by_label("CSV").check()
    page.get_by_role("button", name="Start the export").click()  # 50 rows: background

    expect(page.get_by_role("status")).to_contain_text("Your export has started")
    row = page.get_by_role("row", name=re.compile("Outlet"))
    expect(row).to_contain_text("Ready", timeout=60_000)  # the log polls itself
    expect(row).to_contain_text("50")
    check_screen(page, "22-export-log")
    with page.expect_download() as waiting:
        row.get_by_role("link", name=re.compile("^Download")).click()
    saved = waiting.value.path()
    assert saved is not None
    rows = read_csv(saved)
    assert rows[0] == ["Data ID", "Name", "Owner Phone"] and len(rows) == 51


def test_an_admin_changes_the_locale_and_a_non_admin_is_refused(page: Any, server: Server) -> None:
    sign_in(page, server, "root@acme.test")
    page.get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", name="Numbers and dates in imported files")).to_be_visible()
    expect(page.get_by_role("heading", name="Webhooks")).to_be_visible()
    check_screen(page, "23-settings")
    page.get_by_label("Locale").select_option("id-ID")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("status")).to_contain_text("Settings saved")
    page.reload()
    expect(page.get_by_label("Locale")).to_have_value("id-ID")
    expect(page.get_by_label("Decimal separator")).to_have_value(",")  # the locale's own
    expect(page.get_by_label("Currency symbols")).to_have_value("Rp, IDR")
    page.get_by_label("Thousands separator").select_option(label="Comma (,)")
    page.get_by_role("button", name="Save settings").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text(
        "The decimal separator must be set and differ from the thousands separator"
    )
    expect(page.get_by_label("Thousands separator")).to_have_value(",")  # as sent
    check_screen(page, "24-settings-error")

    context = page.context.browser.new_context(viewport={"width": 1280, "height": 900})
    other = context.new_page()
    other.goto(server.link("acme", "ana@acme.test", "import,export"))
    expect(other.get_by_role("link", name="Settings")).to_have_count(0)
    answer = other.goto(server.url + "/settings")
    assert answer is not None and answer.status == 403
    expect(other.get_by_role("heading", name="Not allowed")).to_be_visible()
    context.close()
    page.reload()  # the refused user changed nothing
    expect(page.get_by_label("Locale")).to_have_value("id-ID")
