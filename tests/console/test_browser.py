"""The console in a real browser: sign-in, an import end to end (and by keyboard only),
export, history, isolation, sign-out; axe-core and both widths on every screen."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from loadbay.tabular.xlsx_writer import XlsxWriter
from tests.console.conftest import Server, check_screen

pytestmark = pytest.mark.slow

HEADERS = ["Data ID", "Outlet name", "Owner Phone", "Category", "Credit Limit", "Notes"]
ROWS = [
    ["OUT-1", "Toko Maju", "0812001", "Retail", "1500", "call first"],
    ["OUT-2", "Warung Sari", "0812002", "Wholesale", "200.5", ""],
    ["OUT-3", "Kedai Baru", "0812003", "Retial", "10", "typo in category"],
    ["OUT-4", "", "0812004", "Horeca", "30", "no name"],
    ["OUT-5", "Grosir Jaya", "0812005", "Retail", "lots", "bad number"],
    ["OUT-6", "Mart Enam", "0812006", "Horeca", "60", ""],
    ["OUT-7", "Toko Tujuh", "0812007", "Retail", "70", ""],
]


def messy_xlsx(path: Path) -> Path:
    """Headers that do not all match the fields, a notes column, three invalid rows."""
    with XlsxWriter(path) as book:
        book.add_sheet("Outlets", HEADERS)
        book.write_rows(ROWS)
    return path


def sign_in(page: Any, server: Server, org: str = "acme", email: str = "ana@acme.test") -> None:
    page.goto(server.link(org, email))
    expect(page.get_by_role("heading", level=1)).to_have_text(org)


def test_sign_in_import_a_messy_xlsx_and_download_the_failed_rows(
    page: Any, server: Server, tmp_path: Path
) -> None:
    page.goto(server.url + "/imports")
    expect(page).to_have_url(re.compile(r"/sign-in\?next=/imports$"))
    check_screen(page, "01-sign-in")
    sign_in(page, server)
    check_screen(page, "02-home-empty")

    page.get_by_role("link", name="New import").first.click()
    expect(page.get_by_role("heading", name="What are you importing?")).to_be_visible()
    expect(page.get_by_role("link", name="Download the Outlet template")).to_be_visible()
    check_screen(page, "03-choose")
    page.get_by_label("Outlet (records)").check()
    page.get_by_role("button", name="Next: upload a file").click()

    expect(page.get_by_role("heading", name="Upload your Outlet file")).to_be_visible()
    expect(page.get_by_text("Accepted: CSV, TSV, XLSX, XLS, JSON, NDJSON")).to_be_visible()
    check_screen(page, "04-upload")
    page.get_by_role("button", name="Next: map columns").click()  # no file yet: the browser says so
    expect(page.get_by_role("heading", name="Upload your Outlet file")).to_be_visible()
    page.get_by_label("File to import").set_input_files(str(messy_xlsx(tmp_path / "outlets.xlsx")))
    page.get_by_role("button", name="Next: map columns").click()

    expect(page.get_by_role("heading", name="Which row holds the column names?")).to_be_visible()
    expect(page.get_by_label("Row 1")).to_be_checked()
    page.get_by_role("button", name="Next: map columns").click()

    expect(page.get_by_role("heading", name="Match the columns of outlets.xlsx")).to_be_visible()
    expect(page.get_by_text("7 data rows found")).to_be_visible()
    expect(page.get_by_label("Outlet name")).to_have_value("name")  # by its words
    expect(page.get_by_text("Suggested: similar name")).to_be_visible()
    expect(page.locator("#missing")).to_have_count(0)
    check_screen(page, "05-map")
    # A field chosen twice is refused by the server with a clear message.
    page.get_by_label("Outlet name").select_option(label="Data ID (required)")
    page.get_by_role("button", name="Next: map values").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Data ID is chosen for more than one column")
    expect(alert).to_contain_text("Map every required field: Name.")
    expect(page.get_by_label("Outlet name")).to_have_attribute("aria-invalid", "true")
    check_screen(page, "06-map-error")
    page.get_by_label("Outlet name").select_option(label="Name (required)")
    expect(page.get_by_label("Notes")).to_have_value("")  # "Ignore this column"
    page.get_by_role("button", name="Next: map values").click()

    # "Retial" is read as Retail (the suggestion); the review finds the two rows left.
    expect(page.get_by_label("“Retial” in Category")).to_have_value("Retail")
    page.get_by_role("button", name="Next: review the rows").click()
    expect(page.get_by_role("link", name="Invalid (2)")).to_be_visible()
    page.get_by_role("link", name="Next: confirm").click()

    expect(page.get_by_role("heading", name="Import 7 rows into Outlet?")).to_be_visible()
    page.get_by_text("Columns and values").click()
    expect(page.get_by_text("Notes → ignored")).to_be_visible()
    check_screen(page, "07-confirm")
    page.get_by_label("Create new and update existing").check()
    page.get_by_role("button", name="Start the import").click()

    bar = page.get_by_role("progressbar")
    expect(bar).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile("Status: Partly imported"))).to_be_visible(
        timeout=60_000
    )
    expect(bar).to_have_attribute("aria-valuenow", "100")
    # a partial result is a warning, not a success: amber, not green (axe checks contrast)
    partly = page.get_by_text("Partly imported", exact=True)
    expect(partly).to_have_css("color", "rgb(138, 90, 0)")
    expect(page.locator(".counts")).to_contain_text("Not imported2")
    expect(page.locator(".counts")).to_contain_text("Created5")
    check_screen(page, "08-result")
    with page.expect_download() as waiting:
        page.get_by_role("link", name="Download the failed rows").click()
    failed = waiting.value.path()
    assert failed is not None and Path(failed).stat().st_size > 0
    expect(page.get_by_role("link", name="Download the rows not imported (CSV)")).to_be_visible()

    page.get_by_role("link", name="Import history").click()
    row = page.get_by_role("row", name=re.compile("outlets.xlsx"))
    expect(row).to_contain_text("Partly imported")
    expect(row.get_by_text("Partly imported")).to_have_css("color", "rgb(138, 90, 0)")
    expect(row).to_contain_text("ana@acme.test")
    check_screen(page, "09-history")
    page.goto(server.url + "/imports?status=failed")
    expect(page.get_by_text("No import matches these filters")).to_be_visible()
    check_screen(page, "10-history-filtered-empty")


def _tab_to(page: Any, target: Any, most: int = 60) -> None:
    """Press Tab until `target` has the focus, as a keyboard user would."""
    for _ in range(most):
        page.keyboard.press("Tab")
        if target.evaluate("el => el === document.activeElement"):
            return
    raise AssertionError(f"Tab never reached {target}")


def test_the_whole_import_by_keyboard_only(page: Any, server: Server, tmp_path: Path) -> None:
    sign_in(page, server, email="kim@acme.test")
    _tab_to(page, page.get_by_role("link", name="New import").first)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="What are you importing?")).to_be_visible()
    _tab_to(page, page.get_by_label("Outlet (records)"))
    page.keyboard.press("Space")
    _tab_to(page, page.get_by_role("button", name="Next: upload a file"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Upload your Outlet file")).to_be_visible()
    _tab_to(page, page.get_by_label("File to import"))
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Space")
    chooser.value.set_files(str(messy_xlsx(tmp_path / "keyboard.xlsx")))
    expect(page.get_by_text("Chosen: keyboard.xlsx")).to_be_visible()
    _tab_to(page, page.get_by_role("button", name="Next: map columns"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Which row holds the column names?")).to_be_visible()
    _tab_to(page, page.get_by_role("button", name="Next: map columns"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=re.compile("Match the columns"))).to_be_visible()
    name_select = page.get_by_label("Outlet name")
    _tab_to(page, name_select)
    page.keyboard.type("Name")  # type-ahead picks "Name (required)"
    expect(name_select).to_have_value("name")
    _tab_to(page, page.get_by_role("button", name="Next: map values"))
    page.keyboard.press("Enter")
    _tab_to(page, page.get_by_role("button", name="Next: review the rows"))
    page.keyboard.press("Enter")
    _tab_to(page, page.get_by_role("link", name="Next: confirm"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Import 7 rows into Outlet?")).to_be_visible()
    _tab_to(page, page.get_by_role("button", name="Start the import"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=re.compile("Status: Partly imported"))).to_be_visible(
        timeout=60_000
    )
    link = page.get_by_role("link", name="Download the failed rows")
    _tab_to(page, link)
    with page.expect_download() as waiting:
        page.keyboard.press("Enter")
    assert waiting.value.path() is not None


def test_export_in_the_background_and_download(page: Any, server: Server) -> None:
    sign_in(page, server, email="eve@acme.test")
    page.get_by_role("link", name="Export", exact=True).click()
    check_screen(page, "11-export-choose")
    page.get_by_label("Outlet (records)").check()
    page.get_by_role("button", name="Next: pick fields").click()
    page.get_by_label("Owner Phone").uncheck()
    page.get_by_label("CSV").check()
    check_screen(page, "12-export-fields")
    page.get_by_role("button", name="Start the export").click()
    expect(page.get_by_role("status")).to_contain_text("Your export has started")
    download = page.get_by_role("link", name=re.compile("^Download"))
    expect(download).to_be_visible(timeout=60_000)
    expect(page.get_by_role("row", name=re.compile("Outlet"))).to_contain_text("Ready")
    check_screen(page, "13-export-log")
    with page.expect_download() as waiting:
        download.click()
    saved = waiting.value.path()
    assert saved is not None
    header = Path(saved).read_text(encoding="utf-8-sig").splitlines()[0]
    assert "Owner Phone" not in header and "ownerPhone" not in header


def test_settings_lists_webhooks_for_admins(page: Any, server: Server) -> None:
    sign_in(page, server, email="root@acme.test")
    page.get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", name="Webhooks")).to_be_visible()
    check_screen(page, "14-settings")


def test_a_second_organisation_sees_none_of_it(page: Any, server: Server) -> None:
    page.goto(server.link("globex", "bo@globex.test"))
    expect(page.get_by_role("heading", level=1)).to_have_text("globex")
    expect(page.get_by_text("No imports yet")).to_be_visible()
    page.get_by_role("link", name="Import history").click()
    expect(page.get_by_text("No imports yet")).to_be_visible()
    expect(page.get_by_text("outlets.xlsx")).to_have_count(0)
    page.get_by_role("link", name="Export log").click()
    expect(page.get_by_text("No exports yet")).to_be_visible()
    page.get_by_role("link", name="New import").first.click()
    expect(page.get_by_text("There is no data type or flow")).to_be_visible()
    check_screen(page, "15-other-org-empty")


def test_an_export_only_user_sees_no_import_and_gets_403(page: Any, server: Server) -> None:
    page.goto(server.link("acme", "exp@acme.test", "export"))
    expect(page.get_by_role("link", name="New import")).to_have_count(0)
    answer = page.goto(server.url + "/imports/new")
    assert answer is not None and answer.status == 403
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    check_screen(page, "16-forbidden")


def test_sign_out_ends_the_session_and_a_used_link_is_refused(page: Any, server: Server) -> None:
    link = server.link("acme", "out@acme.test")
    page.goto(link)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_have_text("You have signed out.")
    page.goto(server.url + "/")
    expect(page).to_have_url(re.compile("/sign-in"))
    page.goto(link)
    expect(page.get_by_role("alert")).to_contain_text("already been used")
    check_screen(page, "17-link-used")


def test_cancel_an_import_before_it_starts(page: Any, server: Server, tmp_path: Path) -> None:
    sign_in(page, server, email="cy@acme.test")
    page.goto(server.url + "/imports/new")
    page.get_by_label("Outlet (records)").check()
    page.get_by_role("button", name="Next: upload a file").click()
    page.get_by_label("File to import").set_input_files(str(messy_xlsx(tmp_path / "cancel.xlsx")))
    page.get_by_role("button", name="Next: map columns").click()
    page.get_by_role("button", name="Next: map columns").click()  # the header row: row 1
    page.get_by_role("button", name="Cancel this import").click()
    expect(page.get_by_role("heading", name="Status: Cancelled")).to_be_visible()
    expect(page.get_by_role("button", name="Cancel the import")).to_have_count(0)
    check_screen(page, "18-cancelled")
