"""The import wizard's review steps in a real browser: an analyst imports the messy
workbook (a notes sheet first, title rows, option values to map) through sheet, header
row, map, map values and review, fixes three cells, commits, downloads the failed rows
and reverts the import; the same by keyboard only. axe-core and both widths on every
screen, and a screenshot of each."""

from __future__ import annotations

import json
import re
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.console.conftest import Server, check_screen
from tests.console.wizard_data import NOTES_TITLE_MERGED, STORE_FIELDS

pytestmark = pytest.mark.slow


Api = Callable[[str, str, dict[str, Any]], Any]


@pytest.fixture(scope="module")
def api(server: Server) -> Api:
    """The API as an admin of acme: (method, path, JSON body) → the answer's JSON."""
    token = server.cli("token", "--org", "acme", "--email", "root@acme.test", "--perms",
                       "import,export,admin")  # fmt: skip
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def call(method: str, path: str, body: dict[str, Any]) -> Any:
        url, data = server.url + "/api/v3" + path, json.dumps(body).encode()
        request = urllib.request.Request(url, data, headers, method=method)  # noqa: S310
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
            return json.loads(answer.read())

    return call


@pytest.fixture(scope="module")
def store(api: Api) -> str:
    """The Store data type, and the organisation reading values as id-ID (Rupiah
    amounts, day-first dates), as the analysts who made the workbook do."""
    api("PUT", "/organization/settings", {"locale": "id-ID"})
    made = api("POST", "/data-type", {"name": "Store", "commonData": True, "fields": STORE_FIELDS})
    return str(made["data_type"]["_id"])


def sign_in(page: Any, server: Server, email: str) -> None:
    page.goto(server.link("acme", email, "import,export"))
    expect(page.get_by_role("heading", level=1)).to_have_text("acme")


def row(page: Any, number: int) -> Any:
    return page.locator(f"#row-{number}")


def test_an_analyst_imports_the_messy_workbook_fixes_three_cells_and_reverts(
    page: Any, server: Server, store: str, api: Api
) -> None:
    sign_in(page, server, "rina@acme.test")
    page.get_by_role("link", name="New import").first.click()
    page.get_by_label("Store (records)").check()
    page.get_by_role("button", name="Next: upload a file").click()
    page.get_by_label("File to import").set_input_files(str(NOTES_TITLE_MERGED))
    page.get_by_role("button", name="Next: map columns").click()

    # Sheet: the notes sheet comes first, the data sheet is found and chosen.
    expect(page.get_by_role("heading", name="Which sheet of")).to_be_visible()
    expect(page.get_by_label(re.compile("^Outlet Data"))).to_be_checked()
    expect(page.get_by_label(re.compile("^Notes"))).not_to_be_checked()
    check_screen(page, "20-wizard-sheet")
    page.get_by_role("button", name="Next: header row").click()

    # Header row: the title and group rows above it are shown, row 4 is chosen.
    expect(page.get_by_role("heading", name="Which row holds the column names?")).to_be_visible()
    expect(page.get_by_label("Row 4", exact=True)).to_be_checked()
    expect(page.get_by_label("Row 2 (blank)")).to_be_disabled()
    expect(page.get_by_text("DAFTAR OUTLET - Q3 2024")).to_be_visible()
    check_screen(page, "21-wizard-header")
    page.get_by_role("button", name="Next: map columns").click()

    # Map: Outlet Name is not matched by name; Name is listed as missing until chosen.
    expect(page.get_by_role("heading", name="Match the columns of")).to_be_visible()
    expect(page.locator("#missing")).to_contain_text("Name")
    expect(page.get_by_label("Outlet Code")).to_have_value("dataId")
    expect(page.get_by_text("Suggested: same name").first).to_be_visible()
    check_screen(page, "22-wizard-map")
    page.get_by_label("Outlet Name").select_option(label="Name (required)")
    page.get_by_role("button", name="Next: map values").click()

    # Map values: each bad value once, with its count and, where close, a suggestion.
    expect(page.get_by_role("heading", name="Values that do not fit their field")).to_be_visible()
    expect(page.get_by_label("“mini market” in Outlet Type")).to_have_value("Minimarket")
    expect(page.get_by_label("“Super Market” in Outlet Type")).to_have_value("Supermarket")
    expect(page.get_by_label("“apotek” in Outlet Type")).to_have_value("")
    page.get_by_label("“apotek” in Outlet Type").select_option("Pharmacy")
    page.get_by_label("“Toko Kelontong” in Outlet Type").select_option("Warung")
    check_screen(page, "23-wizard-values")
    page.get_by_role("button", name="Next: review the rows").click()

    # Review: counts, tabs with counts, errors grouped by column and reason.
    expect(page.get_by_role("heading", name="Review the rows of")).to_be_visible()
    expect(page.get_by_role("link", name="All (13)")).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("link", name="Invalid (6)")).to_be_visible()
    errors = page.get_by_role("table", name="Errors by column and reason")
    expect(errors.get_by_role("row", name=re.compile("^Outlet Code"))).to_contain_text(
        "duplicate key in the file"
    )
    check_screen(page, "24-wizard-review")
    page.get_by_role("link", name="Invalid (6)").click()
    expect(page).to_have_url(re.compile(r"/review\?filter=invalid$"))
    email = page.get_by_label("Email, row 8")
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(email).to_have_accessible_description(re.compile("is not an e-mail address"))
    check_screen(page, "25-wizard-review-invalid")

    # Three cells fixed, each checked again at once; the counts follow.
    email.fill("apotek.sehat@example.com")
    row(page, 8).get_by_role("button", name="Check again row 8").click()
    expect(page.get_by_role("status").filter(has_text="Row 8")).to_have_text(
        "Row 8 checked again: it is valid now."
    )
    expect(page.get_by_label("Email, row 8")).to_have_count(0)
    expect(page.get_by_role("link", name="Invalid (5)")).to_be_visible()
    date = page.get_by_label("Registered Date, row 11")
    date.fill("15/08/2024")
    date.press("Enter")  # the row's form is sent from its cell
    expect(page.get_by_role("status")).to_have_text("Row 11 checked again: it is valid now.")
    code = page.get_by_label("Outlet Code, row 15")
    expect(code).to_have_accessible_description("duplicate of row 7")
    code.fill("OUT-0011")
    row(page, 15).get_by_role("button", name="Check again row 15").click()
    expect(page.get_by_role("status")).to_have_text("Row 15 checked again: it is valid now.")
    expect(page.get_by_role("link", name="Invalid (3)")).to_be_visible()
    # The TOTAL row under the data is not an outlet: discarded.
    row(page, 25).get_by_role("button", name="Discard row 25").click()
    expect(row(page, 25)).to_contain_text("discarded")
    expect(page.get_by_role("link", name="Invalid (2)")).to_be_visible()
    # Swapped rows stay in the grid, and the counts and errors in their own places.
    grid = page.get_by_role("table", name=re.compile("^Invalid rows"))
    expect(grid.locator("tbody > tr")).to_have_count(6)
    expect(errors.get_by_role("row", name=re.compile(r"^Lat.Long"))).to_contain_text("14")
    expect(errors.get_by_role("row", name=re.compile("^Outlet Code"))).to_have_count(0)
    check_screen(page, "26-wizard-review-fixed")
    page.reload()  # the edits are the server's, not the page's
    expect(page.get_by_role("link", name="Invalid (2)")).to_be_visible()
    expect(page.locator("tbody tr[data-row]")).to_have_count(2)  # rows 13 and 14
    page.get_by_role("link", name="Next: confirm").click()

    # Confirm: the forecast and the rule for the rows still invalid.
    expect(page.get_by_role("heading", name="Import 13 rows into Store?")).to_be_visible()
    forecast = page.get_by_role("region", name="What will happen")
    expect(forecast).to_contain_text("To create10")
    expect(forecast).to_contain_text("To skip1")
    expect(forecast).to_contain_text("Invalid2")
    expect(page.get_by_label(re.compile("^Import the valid rows"))).to_be_checked()
    check_screen(page, "27-wizard-confirm")
    page.get_by_role("button", name="Start the import").click()

    expect(page.get_by_role("heading", name=re.compile("Status: Partly imported"))).to_be_visible(
        timeout=60_000
    )
    counts = page.locator("#progress .counts")
    expect(counts).to_contain_text("Created10")
    expect(counts).to_contain_text("Not imported3")
    check_screen(page, "28-wizard-result")
    with page.expect_download() as waiting:
        page.get_by_role("link", name="Download the failed rows").click()
    failed = waiting.value.path()
    assert failed is not None
    assert waiting.value.suggested_filename.startswith("failed_rows_")
    with zipfile.ZipFile(failed) as book:  # an XLSX: the two rows still invalid
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
    assert "OUT-0009" in sheet and "OUT-0010" in sheet and "OUT-0004" not in sheet
    assert sheet.count(' s="5"') == 3  # their bad cells marked: name and date, Lat/Long
    assert "latitude 106.8456 is out of range" in sheet  # and why, in the Error column
    expect(page.get_by_role("link", name="Download the rows not imported (CSV)")).to_be_visible()

    # Revert: asked on its own page, its outcome on the import's page. One record was
    # changed since the import: it is left as it is, and listed.
    changed = {"dataTypeId": store, "data": [{"dataId": "OUT-0002", "name": "Warung Bu Sri 2"}]}
    assert api("POST", "/data/bulk/upsert", changed)["success"] == 1
    page.get_by_role("link", name="Revert this import…").click()
    expect(page.get_by_role("heading", name=re.compile("Revert the import of"))).to_be_visible()
    expect(page.get_by_text("The 10 records it created are deleted.")).to_be_visible()
    check_screen(page, "29-wizard-revert")
    page.get_by_role("button", name="Revert the import").click()
    revert = page.get_by_role("region", name="Undo this import")
    expect(revert).to_contain_text("Reverted by rina@acme.test", timeout=60_000)
    expect(revert).to_contain_text("9 records undone, 1 left as it was")
    expect(page.get_by_role("link", name="Revert this import…")).to_have_count(0)
    check_screen(page, "30-wizard-reverted")
    page.get_by_role("link", name="See the records left as they were").click()
    conflict = page.get_by_role("table", name="1 record left as it was").get_by_role("row")
    expect(conflict.nth(1)).to_contain_text("OUT-0002")
    expect(conflict.nth(1)).to_contain_text("deleting it")
    expect(conflict.nth(1)).to_contain_text("changed after this import")
    check_screen(page, "31-wizard-revert-left")


def _tab_to(page: Any, target: Any, most: int = 120) -> None:
    """Press Tab until `target` has the focus, as a keyboard user would."""
    for _ in range(most):
        page.keyboard.press("Tab")
        if target.evaluate("el => el === document.activeElement"):
            return
    raise AssertionError(f"Tab never reached {target}")


def test_the_messy_workbook_by_keyboard_only(
    page: Any, server: Server, store: str, tmp_path: Path
) -> None:
    sign_in(page, server, "kim@acme.test")
    _tab_to(page, page.get_by_role("link", name="New import").first)
    page.keyboard.press("Enter")
    _tab_to(page, page.get_by_label("Outlet (records)"))  # the group's checked radio
    page.keyboard.press("ArrowDown")
    expect(page.get_by_label("Store (records)")).to_be_checked()
    _tab_to(page, page.get_by_role("button", name="Next: upload a file"))
    page.keyboard.press("Enter")
    _tab_to(page, page.get_by_label("File to import"))
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Space")
    chooser.value.set_files(str(NOTES_TITLE_MERGED))
    _tab_to(page, page.get_by_role("button", name="Next: map columns"))
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Which sheet of")).to_be_visible()
    _tab_to(page, page.get_by_role("button", name="Next: header row"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Which row holds the column names?")).to_be_visible()
    _tab_to(page, page.get_by_role("button", name="Next: map columns"))
    page.keyboard.press("Enter")
    name = page.get_by_label("Outlet Name")
    _tab_to(page, name)
    page.keyboard.type("Name")  # type-ahead picks "Name (required)"
    expect(name).to_have_value("name")
    _tab_to(page, page.get_by_role("button", name="Next: map values"))
    page.keyboard.press("Enter")

    apotek = page.get_by_label("“apotek” in Outlet Type")
    _tab_to(page, apotek)
    page.keyboard.type("Pharmacy")
    expect(apotek).to_have_value("Pharmacy")
    _tab_to(page, page.get_by_role("button", name="Next: review the rows"))
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Review the rows of")).to_be_visible()
    _tab_to(page, page.get_by_role("link", name="Invalid (6)"))
    page.keyboard.press("Enter")
    email = page.get_by_label("Email, row 8")
    _tab_to(page, email)
    page.keyboard.press("Control+A")
    page.keyboard.type("apotek.sehat@example.com")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("Row 8 checked again: it is valid now.")
    # The focus stays on the row, not back at the top of the page.
    expect(row(page, 8).get_by_role("rowheader")).to_be_focused()
    _tab_to(page, page.get_by_role("button", name="Discard row 25"))
    page.keyboard.press("Enter")
    expect(row(page, 25)).to_contain_text("discarded")
    expect(page.get_by_role("button", name="Keep row 25")).to_be_focused()
    _tab_to(page, page.get_by_role("link", name="Next: confirm"))
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Import 13 rows into Store?")).to_be_visible()
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


def test_the_review_says_it_is_checking_and_shows_the_findings_when_done(
    page: Any, server: Server, tmp_path: Path
) -> None:
    """A file big enough to be checked in many chunks (the test server's are 3 rows):
    the review page shows the check's progress and reloads itself with its findings."""
    rows = ["Data ID,Name,Category"] + [
        f"BIG-{n},Toko {n},{'Retail' if n % 1000 else 'Retial'}" for n in range(1, 6001)
    ]
    big = tmp_path / "big.csv"
    big.write_text("\n".join(rows) + "\n", encoding="utf-8")
    sign_in(page, server, "lee@acme.test")
    page.goto(server.url + "/imports/new")
    page.get_by_label("Outlet (records)").check()
    page.get_by_role("button", name="Next: upload a file").click()
    page.get_by_label("File to import").set_input_files(str(big))
    page.get_by_role("button", name="Next: map columns").click()
    expect(page.get_by_role("heading", name="Which row holds the column names?")).to_be_visible()
    page.goto(page.url.replace("/header", "/review"))
    checking = page.get_by_role("heading", name="Checking every row…")
    expect(checking).to_be_visible()
    expect(page.get_by_role("progressbar")).to_have_attribute(
        "aria-valuetext", re.compile("of 6,000 rows")
    )
    check_screen(page, "32-wizard-review-checking")
    expect(page.get_by_role("link", name="Invalid (6)")).to_be_visible(timeout=120_000)
    expect(checking).to_have_count(0)
