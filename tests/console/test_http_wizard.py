"""The import wizard's review steps over plain HTTP (sheet, header row, map values, the
review grid with edits and discards, confirm with forecast and invalid-row rule, revert):
what the server does whatever the browser shows."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from loadbay.catalog.fields import parse_fields
from loadbay.catalog.models import DataType, Hub, Record
from loadbay.console.session import issue_link
from loadbay.db import Database
from loadbay.imports.models import ImportJob
from loadbay.imports.review_models import ImportReview
from loadbay.storage import get_storage
from tests.console.wizard_data import NOTES_TITLE_MERGED, STORE_FIELDS

HX = {"HX-Request": "true"}


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


@pytest.fixture
def store(db: Database, make_org: Any) -> dict[str, str]:
    org = make_org("acme")
    with db.write() as session:
        hub = Hub(organization_id=org, name="Jakarta")
        kind = DataType(
            organization_id=org,
            name="Store",
            common_data=False,
            fields=[s.as_dict() for s in parse_fields(STORE_FIELDS)],
        )
        session.add_all([hub, kind])
        session.flush()
        return {"org": org, "hub": hub.id, "target": f"datasource:{kind.id}"}


def _upload(client: TestClient, store: dict[str, str], content: bytes, name: str) -> Any:
    link = issue_link(store["org"], "ana@acme.test", ["import"], client.app.state.settings.secret)
    client.get(link, follow_redirects=False)
    page = client.get("/imports/new/upload", params={"target": store["target"]})
    form = {"csrf": _csrf(page.text), "target": store["target"], "hubId": store["hub"]}
    return client.post(
        "/imports/new/upload", data=form, files={"file": (name, content)}, follow_redirects=False
    )


def _selected(html: str, name: str) -> str:
    found = re.search(rf'<select id="{name}" name="{name}"[^>]*>(.*?)</select>', html, re.S)
    assert found, name
    picked = re.search(r'<option value="([^"]*)" selected', found.group(1))
    return picked.group(1) if picked else ""


def _post(client: TestClient, path: str, page: str, **form: Any) -> Any:
    return client.post(path, data={"csrf": _csrf(page), **form}, follow_redirects=False)


def _job(db: Database, code: str) -> ImportJob:
    with db.read() as session:
        found = session.get(ImportJob, code)
        assert found is not None
        return found


def _to_review(client: TestClient, store: dict[str, str]) -> str:
    """Upload the messy workbook and go through sheet, header row, map and values."""
    answer = _upload(client, store, NOTES_TITLE_MERGED.read_bytes(), "outlets.xlsx")
    code = str(answer.headers["location"].split("/")[2])
    page = client.get(f"/imports/{code}/header").text
    _post(client, f"/imports/{code}/header", page, headerRow="4")
    page = client.get(f"/imports/{code}/map").text
    form = {f"col-{i}": _selected(page, f"col-{i}") for i in range(10)} | {"col-1": "name"}
    assert _post(client, f"/imports/{code}/map", page, **form).status_code == 303
    page = client.get(f"/imports/{code}/values").text
    values = dict(re.findall(r'name="(f-\d+|v-\d+)" value="([^"]*)"', page))
    picks = {f"to-{k[2:]}": _selected(page, f"to-{k[2:]}") for k in values if k.startswith("f-")}
    _post(client, f"/imports/{code}/values", page, **values, **picks)
    return code


def test_sheet_then_header_row_then_columns_of_a_workbook_with_a_notes_sheet(
    app_client: TestClient, store: dict[str, str], db: Database
) -> None:
    answer = _upload(app_client, store, NOTES_TITLE_MERGED.read_bytes(), "outlets.xlsx")
    assert answer.status_code == 303, answer.text
    code = answer.headers["location"].split("/")[2]
    assert answer.headers["location"] == f"/imports/{code}/sheet"  # two sheets
    page = app_client.get(f"/imports/{code}/sheet").text
    assert 'value="Notes">' in page and 'value="Outlet Data" checked>' in page
    assert "16 rows, chosen" in page

    # The Notes sheet: its own header row is found, not the data sheet's row 4.
    moved = _post(app_client, f"/imports/{code}/sheet", page, sheet="Notes")
    assert moved.headers["location"] == f"/imports/{code}/header"
    header = app_client.get(f"/imports/{code}/header").text
    assert "Sheet “Notes”. Row 1 looks like the header" in header
    back = _post(app_client, f"/imports/{code}/sheet", page, sheet="Outlet Data")
    assert back.status_code == 303
    header = app_client.get(f"/imports/{code}/header").text
    assert "Row 4 looks like the header" in header and "13 of them" in header
    assert 'id="row-4" name="headerRow" value="4" checked' in header
    assert 'value="2" disabled' in header  # a blank row cannot be the header
    assert "DAFTAR OUTLET - Q3 2024" in header

    # Row 3 (merged group titles) as the header: refused, saying why; row 4 stays chosen.
    wrong = _post(app_client, f"/imports/{code}/header", header, headerRow="3")
    assert wrong.status_code == 400
    assert "Row 4: column 10 has a value but no header" in wrong.text
    assert 'value="3" checked' in wrong.text  # what was chosen is kept
    chosen = _post(app_client, f"/imports/{code}/header", header, headerRow="4")
    assert chosen.headers["location"] == f"/imports/{code}/map"
    assert (_job(db, code).headers or [])[:2] == ["Outlet Code", "Outlet Name"]
    refused = _post(app_client, f"/imports/{code}/header", header, headerRow="2")
    assert refused.status_code == 400 and "Row 2 (headerRow) is blank" in refused.text

    mapping = app_client.get(f"/imports/{code}/map").text
    assert _selected(mapping, "col-0") == "dataId" and _selected(mapping, "col-1") == "name"
    assert "Suggested: same name" in mapping and "Suggested: similar name" in mapping
    assert "Required fields not mapped yet" not in mapping
    # Left on "Ignore", the required Name is listed as missing and the step refuses.
    form = {f"col-{i}": _selected(mapping, f"col-{i}") for i in range(10)} | {"col-1": ""}
    refused = _post(app_client, f"/imports/{code}/map", mapping, **form)
    assert refused.status_code == 400 and "Map every required field: Name." in refused.text
    assert re.search(
        r'id="missing">\s*<h2>Required fields not mapped yet</h2>\s*<ul><li>Name', refused.text
    )


def test_the_structure_pages_read_only_the_head_of_the_file(
    app_client: TestClient, store: dict[str, str], db: Database
) -> None:
    """The sheet, header-row and map pages show the counts taken when the draft was read
    (the upload, a change) and read only the rows they show: a row the reader would
    refuse at the end of the stored file is never reached by a page load."""
    rows = ["Outlet Code,Name"] + [f"R{n},Toko {n}" for n in range(40)]
    answer = _upload(app_client, store, ("\n".join(rows) + "\n").encode(), "outlets.csv")
    code = answer.headers["location"].split("/")[2]
    assert answer.headers["location"] == f"/imports/{code}/header"
    stored = get_storage().path(_job(db, code).file_key)
    with stored.open("a", encoding="utf-8") as f:
        f.write("R40," + "x" * 40_000 + "\n")  # over the cell limit: a full read is a 400
    for step in ("sheet", "header", "map"):
        page = app_client.get(f"/imports/{code}/{step}")
        assert page.status_code == 200, (step, page.text)
    assert "40 of them" in app_client.get(f"/imports/{code}/header").text
    assert "40 data rows found" in app_client.get(f"/imports/{code}/map").text


def test_value_maps_the_review_grid_edits_discards_and_the_confirm(
    app_client: TestClient, store: dict[str, str], db: Database
) -> None:
    answer = _upload(app_client, store, NOTES_TITLE_MERGED.read_bytes(), "outlets.xlsx")
    code = answer.headers["location"].split("/")[2]
    page = app_client.get(f"/imports/{code}/map").text
    form = {f"col-{i}": _selected(page, f"col-{i}") for i in range(10)}
    twice = _post(app_client, f"/imports/{code}/map", page, **form | {"col-1": "dataId"})
    assert (
        twice.status_code == 400 and "Outlet Code is chosen for more than one column" in twice.text
    )
    mapped = _post(app_client, f"/imports/{code}/map", page, **form | {"col-1": "name"})
    assert mapped.headers["location"] == f"/imports/{code}/values"
    draft = _job(db, code)
    assert {"id": "name", "headerColumn": "Outlet Name"} in (draft.mapping or [])

    # Each bad option value once, with its count and a suggestion where one is close.
    page = app_client.get(f"/imports/{code}/values").text
    values = dict(re.findall(r'name="(f-\d+|v-\d+)" value="([^"]*)"', page))
    index = {v: k[2:] for k, v in values.items() if k.startswith("v-")}
    assert set(index) >= {"mini market", "apotek", "Super Market", "Toko Kelontong", "✓"}
    assert _selected(page, f"to-{index['mini market']}") == "Minimarket"
    assert _selected(page, f"to-{index['apotek']}") == ""  # no close option: left as it is
    assert _selected(page, f"to-{index['✓']}") == "true"
    picks = {f"to-{i}": _selected(page, f"to-{i}") for i in index.values()}
    picks[f"to-{index['apotek']}"] = "Pharmacy"
    done = _post(app_client, f"/imports/{code}/values", page, **values, **picks)
    assert done.headers["location"] == f"/imports/{code}/review"
    value_map = (_job(db, code).options or {})["valueMap"]
    assert value_map["kind"] == {
        "mini market": "Minimarket", "apotek": "Pharmacy", "Super Market": "Supermarket"
    }  # fmt: skip
    assert value_map["active"] == {"✓": "true"}
    again = app_client.get(f"/imports/{code}/values").text  # a replacement made shows as chosen
    index = dict(re.findall(r'name="v-(\d+)" value="([^"]*)"', again))
    assert (
        _selected(again, f"to-{next(i for i, v in index.items() if v == 'apotek')}") == "Pharmacy"
    )

    review = app_client.get(f"/imports/{code}/review").text
    counts = dict(re.findall(r"<dt>(\w+)</dt><dd[^>]*>([\d,]+)</dd>", review))
    assert counts["Rows"] == "13" and int(counts["Invalid"]) > 0
    assert 'Invalid <span class="count">(' + counts["Invalid"] + ")" in review
    assert "required value missing" in review and "duplicate key in the file" in review
    invalid = app_client.get(
        f"/imports/{code}/review?filter=invalid&column=Outlet+Name&reason=required"
    )
    rows = re.findall(r'<tr id="row-(\d+)"', invalid.text)
    assert rows == ["13", "25"]  # the blank name, and the TOTAL row under the data
    assert 'aria-invalid="true" aria-describedby="m-13-1"' in invalid.text
    assert re.search(r'<span class="cell-msg" id="m-13-1">[^<]*required', invalid.text)

    # Fix the blank name over htmx: checked again at once, one problem left (the date).
    form = {"csrf": _csrf(review), "back": "?filter=invalid", "action": "save"}
    half = app_client.post(
        f"/imports/{code}/review/rows/13", data=form | {"c-1": "Toko Baru"}, headers=HX
    )
    assert half.status_code == 200, half.text
    assert half.text.lstrip().startswith('<tr id="row-13"')
    assert "m-13-1" not in half.text and "Toko Baru" in half.text
    assert 'aria-describedby="m-13-5"' in half.text  # 31/02/2024 is still no date
    assert "Row 13 checked again: 1 problem left." in half.text
    fixed = app_client.post(
        f"/imports/{code}/review/rows/13", data=form | {"c-5": "29/02/2024"}, headers=HX
    )
    assert "aria-invalid" not in fixed.text.split("</tr>")[0] and "Toko Baru" in fixed.text
    assert "Row 13 checked again: it is valid now." in fixed.text
    assert 'id="findings" aria-labelledby="findings-title" hx-swap-oob="true"' in fixed.text
    assert 'aria-current="page">Invalid' in fixed.text  # the tab the row was shown under
    after = dict(re.findall(r"<dt>(\w+)</dt><dd[^>]*>([\d,]+)</dd>", fixed.text))
    assert int(after["Invalid"]) == int(counts["Invalid"]) - 1

    # Discard the TOTAL row without htmx: back to where it was shown.
    gone = app_client.post(
        f"/imports/{code}/review/rows/25",
        data={"csrf": _csrf(review), "back": "?filter=invalid&page=1", "action": "discard"},
        follow_redirects=False,
    )
    assert gone.headers["location"] == f"/imports/{code}/review?filter=invalid#row-25"
    page = app_client.get(f"/imports/{code}/review").text
    assert re.search(r'<tr id="row-25" data-row class="discarded">', page)
    assert "Keep<span" in page and "<dt>Discarded</dt><dd>1</dd>" in page

    confirm = app_client.get(f"/imports/{code}/confirm").text
    forecast = dict(re.findall(r"<dt>To (\w+)</dt><dd>([\d,]+)</dd>", confirm))
    assert forecast["skip"] == "1" and int(forecast["create"]) > 0
    assert "Outlet Name → <strong>Name</strong>" in confirm
    assert "“apotek” → Pharmacy" in confirm
    bad = _post(
        app_client, f"/imports/{code}/confirm", confirm, invalidRows="skip", maxInvalid="lots"
    )
    assert bad.status_code == 400 and "maxInvalid must be a count of rows" in bad.text
    assert 'value="lots"' in bad.text  # what was sent is kept
    started = _post(app_client, f"/imports/{code}/confirm", confirm, invalidRows="skip")
    assert started.headers["location"] == f"/imports/{code}"
    job = _job(db, code)
    assert job.phase == "done" and job.status == "partially", job.error_message
    assert job.created_count == int(forecast["create"]) and job.skipped_count >= 1
    with db.read() as session:
        names = {r.data_id: r.data.get("name") for r in session.scalars(sa.select(Record))}
    assert names.get("OUT-0009") == "Toko Baru"  # the cell fixed in the review
    result = app_client.get(f"/imports/{code}").text
    assert "Download the failed rows" in result and "Revert this import…" in result
    assert "failed_rows.xlsx" in result and "bad cells highlighted" in result
    # a finished import is no wizard step any more
    assert app_client.get(f"/imports/{code}/review", follow_redirects=False).status_code == 303


def test_the_columns_with_problems_on_the_page_come_first(
    app_client: TestClient, store: dict[str, str], db: Database
) -> None:
    """Every bad cell of a page is in the columns after Row (file order among them), so it
    is in sight without scrolling sideways; a row checked again keeps the page's order."""
    code = _to_review(app_client, store)
    review = app_client.get(f"/imports/{code}/review?filter=invalid").text
    grid = review.split('<table class="grid">')[1]
    heads = re.findall(r'<th scope="col"[^>]*>([^<]+)', grid.split("<tbody>")[0])
    with_problems = set(re.findall(r'aria-label="([^"]+), row \d+"', grid))
    in_file = list(_job(db, code).headers or [])
    bad = [h for h in in_file if h in with_problems]
    assert bad != in_file[: len(bad)]  # the file's order would leave some of them behind
    assert heads[: len(bad) + 1] == ["Row", *bad], heads
    assert "The columns with a problem on this page come first." in review
    labels = re.findall(r'class="cell-label" aria-hidden="true">([^<]*)<', grid)
    assert labels[: len(heads) - 2] == heads[1:-1]  # each row's cells, named for phones
    order = re.search(r'name="order" value="([\d,]+)"', review)
    assert order is not None
    form = {"csrf": _csrf(review), "back": "?filter=invalid", "action": "save"}
    lat_long = in_file.index("Lat/Long")
    row = app_client.post(
        f"/imports/{code}/review/rows/14",
        data=form | {"order": order.group(1), f"c-{lat_long}": "-6.2,106.8"},
        headers=HX,
    )
    assert "m-14-" + str(lat_long) not in row.text  # fixed, and the cells stay in place:
    labels = re.findall(r'class="cell-label" aria-hidden="true">([^<]*)<', row.text)
    assert labels == heads[1:-1]
    # no row of the valid tab has a problem: the file's order
    valid = app_client.get(f"/imports/{code}/review?filter=valid").text
    grid = valid.split('<table class="grid">')[1]
    heads = re.findall(r'<th scope="col"[^>]*>([^<]+)', grid.split("<tbody>")[0])
    assert heads[1:-1] == [h for h in in_file if h]
    assert "come first" not in valid


def test_block_rule_writes_nothing_while_a_row_is_invalid(
    app_client: TestClient, store: dict[str, str], db: Database
) -> None:
    code = _to_review(app_client, store)
    confirm = app_client.get(f"/imports/{code}/confirm").text
    assert 'id="rule-skip" name="invalidRows" value="skip" checked' in confirm
    _post(app_client, f"/imports/{code}/confirm", confirm, invalidRows="block")
    job = _job(db, code)
    assert job.phase == "done" and job.created_count == 0 and job.status == "failed"
    with db.read() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Record)) == 0


def test_the_review_page_polls_while_the_check_runs(
    app_client: TestClient, store: dict[str, str], db: Database
) -> None:
    code = _to_review(app_client, store)
    with db.write() as session:
        found = session.get(ImportReview, code)
        assert found is not None
        found.status, found.processed_rows = "Running", 3
    page = app_client.get(f"/imports/{code}/review").text
    assert "Checking every row…" in page and 'hx-trigger="every 1s"' in page
    assert 'aria-valuenow="23"' in page and "3 of 13 rows checked" in page
    assert "Next: confirm" not in page
    fragment = app_client.get(f"/imports/{code}/review", headers=HX)
    assert fragment.text.lstrip().startswith('<section id="check"')
    with db.write() as session:
        found = session.get(ImportReview, code)
        assert found is not None
        found.status = "Done"
    ended = app_client.get(f"/imports/{code}/review", headers=HX)
    assert ended.status_code == 204 and ended.headers["HX-Refresh"] == "true"


def test_revert_from_the_job_page_with_a_record_changed_since(
    app_client: TestClient, store: dict[str, str], db: Database, token_for: Any
) -> None:
    admin = {"Authorization": f"Bearer {token_for(perms='import,admin')}"}
    put = app_client.put("/api/v3/organization/settings", headers=admin, json={"locale": "id-ID"})
    assert put.status_code == 200, put.text  # Rupiah amounts and day-first dates are read
    code = _to_review(app_client, store)
    confirm = app_client.get(f"/imports/{code}/confirm").text
    _post(app_client, f"/imports/{code}/confirm", confirm)
    created = _job(db, code).created_count
    assert created > 1
    with db.write() as session:  # someone edits one of the imported records afterwards
        record = session.scalars(sa.select(Record).where(Record.data_id == "OUT-0002")).one()
        record.updated_time = record.updated_time + timedelta(minutes=5)
    page = app_client.get(f"/imports/{code}/revert").text
    assert f"The {created} records it created are deleted." in page
    answer = _post(app_client, f"/imports/{code}/revert", page)
    assert answer.headers["location"] == f"/imports/{code}#revert"
    job = _job(db, code)
    assert job.revert_status == "Done" and job.reverted_count == created - 1
    result = app_client.get(f"/imports/{code}").text
    assert "<strong>Reverted</strong> by ana@acme.test" in result
    assert "1 left as it was because it changed after the import" in result
    assert "Revert this import…" not in result
    conflicts = app_client.get(f"/imports/{code}/revert-conflicts").text
    assert record.id in conflicts and "deleting it" in conflicts and "OUT-0002" in conflicts
    # asked twice (a second tab): the page says how it stands, no error
    again = _post(app_client, f"/imports/{code}/revert", page)
    assert again.status_code == 303
    assert app_client.get(f"/imports/{code}/revert", follow_redirects=False).status_code == 303
    with db.read() as session:
        left = session.scalars(sa.select(Record.data_id)).all()
    assert left == ["OUT-0002"]
    history = app_client.get("/imports").text
    assert re.search(r'Partly imported</span><span class="muted">, reverted</span>', history)


def test_tasks_of_a_flow_go_through_the_same_steps(
    app_client: TestClient, db: Database, make_org: Any
) -> None:
    from loadbay.catalog.demo import seed_demo

    make_org("acme")
    with db.write() as session:
        demo = seed_demo(session, "acme")
    store = {
        "org": demo["organizationId"],
        "hub": demo["hubId"],
        "target": f"task:{demo['flowId']}",
    }
    content = b"Title,Order Number,Weight (kg)\nDrop,SO-1,2.5\nPick,,3\nLift,SO-3,heavy\n"
    answer = _upload(app_client, store, content, "tasks.csv")
    code = answer.headers["location"].split("/")[2]
    assert answer.headers["location"] == f"/imports/{code}/header"  # a CSV has no sheets
    page = app_client.get(f"/imports/{code}/map").text
    assert _selected(page, "col-1") == "orderNumber"
    form = {f"col-{i}": _selected(page, f"col-{i}") for i in range(3)}
    assert _post(app_client, f"/imports/{code}/map", page, **form).status_code == 303
    assert "Every value in the Delivery choice" in app_client.get(f"/imports/{code}/values").text
    review = app_client.get(f"/imports/{code}/review?filter=invalid").text
    assert re.findall(r'<tr id="row-(\d+)"', review) == ["3", "4"]
    assert 'aria-label="Weight (kg), row 4"' in review
    confirm = app_client.get(f"/imports/{code}/confirm").text
    assert "Find existing tasks by" in confirm and "<dt>To create</dt><dd>1</dd>" in confirm
    _post(app_client, f"/imports/{code}/confirm", confirm)
    job = _job(db, code)
    assert (job.status, job.created_count, job.failed_count) == ("partially", 1, 2)
