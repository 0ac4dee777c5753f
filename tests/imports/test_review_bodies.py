"""The bodies of a draft change (`PATCH /import-jobs/{code}`) and of the review's row
edits (`PATCH /import-jobs/{code}/rows`) on every engine: a bad body is a 400
`import-003` naming what is wrong and changes nothing; the loose forms the routes have
always taken (numbers as text, null for "unset") still work."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.imports.conftest import csv_bytes

API = "/api/v3"
MESSY = Path(__file__).parent.parent / "fixtures" / "messy"
ROWS = [["Outlet Code", "Name", "Email"], ["K1", "Toko 1", "k1@shop.id"], ["K2", "", "x"]]


@pytest.fixture
def start(app_client: TestClient, auth: dict[str, str], catalog: dict[str, str]) -> Any:
    def _start(content: bytes, filename: str = "o.csv") -> str:
        data = {"dataTypeId": catalog["outlet"], "hubId": catalog["hub"]}
        response = app_client.post(
            f"{API}/import-jobs", headers=auth, data=data, files={"file": (filename, content)}
        )
        assert response.status_code == 201, response.text
        return str(response.json()["data"]["code"])

    return _start


def refused(response: Any, says: str) -> None:
    assert response.status_code == 400, response.text
    assert response.json()["failedCode"] == "import-003"
    assert says in response.json()["message"], response.json()["message"]


def grid(client: TestClient, auth: dict[str, str], code: str) -> list[dict[str, Any]]:
    response = client.get(f"{API}/import-jobs/{code}/rows", headers=auth)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["data"]["data"]
    return found


# ---- row edits ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ([{"row": 2, "discard": True}], "rows must be a non-empty list"),  # a JSON array
        ({"rows": {"row": 2, "discard": True}}, "rows must be a non-empty list"),
        ({"rows": []}, "rows must be a non-empty list"),
        ({"edits": [{"row": 2, "discard": True}]}, "rows must be a non-empty list"),
        ({"rows": ["2"]}, "each item of rows needs a row number"),
        ({"rows": [{"row": True, "discard": True}]}, "each item of rows needs a row number"),
        ({"rows": [{"row": 2.5, "discard": True}]}, "each item of rows needs a row number"),
        ({"rows": [{"row": 2}]}, "row 2: give cells or discard"),
        ({"rows": [{"row": 2, "cells": None}]}, "row 2: give cells or discard"),
        ({"rows": [{"row": 2, "cells": ["x"]}]}, "row 2: cells must be {header: text}"),
        ({"rows": [{"row": 2, "cells": {"Name": {"a": 1}}}]}, "row 2, column 'Name'"),
        ({"rows": [{"row": 2, "cells": {"Name": ["a"]}}]}, "row 2, column 'Name'"),
        ({"rows": [{"row": 3, "discard": "yes"}]}, "row 3: discard must be true or false"),
        # Before: taken, and the row's discard mark was dropped while it still counted
        # as discarded in the forecast.
        (
            {"rows": [{"row": 3, "cells": {"Name": "Toko 2"}, "discard": "yes"}]},
            "row 3: discard must be true or false",
        ),
        # The first bad item answers, though a later one is bad too.
        (
            {"rows": [{"row": 2, "cells": {"Nope": "x"}}, {"row": 3, "discard": 1}]},
            "row 2: the file has no column 'Nope'",
        ),
    ],
)
def test_a_bad_row_edit_is_a_400_naming_it_and_stores_nothing(
    start, app_client, auth, body, says
) -> None:
    code = start(csv_bytes(ROWS))
    app_client.patch(
        f"{API}/import-jobs/{code}/rows", headers=auth, json={"rows": [{"row": 3, "discard": True}]}
    )
    before = grid(app_client, auth, code)
    refused(app_client.patch(f"{API}/import-jobs/{code}/rows", headers=auth, json=body), says)
    assert grid(app_client, auth, code) == before


def test_row_edits_take_numbers_as_text_and_null_to_undo(start, app_client, auth) -> None:
    code = start(csv_bytes(ROWS))
    url = f"{API}/import-jobs/{code}/rows"
    number = app_client.patch(url, headers=auth, json={"rows": [{"row": 3, "cells": {"Name": 42}}]})
    assert number.status_code == 200, number.text
    assert number.json()["data"][0]["cells"]["Name"] == "42"
    undone = app_client.patch(
        url, headers=auth, json={"rows": [{"row": 3, "cells": {"Name": None}, "discard": None}]}
    )
    assert undone.status_code == 200, undone.text
    row = undone.json()["data"][0]
    assert row["cells"]["Name"] == "" and not row["discarded"]
    assert "required" in {i["code"] for i in row["issues"]}


# ---- draft changes --------------------------------------------------------------------------

GIVE = "Give one of sheet, headerRow, mapping, valueMap, locale"


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (["sheet", "Notes"], GIVE),  # a JSON array
        ({}, GIVE),
        ({"sheets": "Notes", "header": 2}, GIVE),  # unknown keys only
        ({"sheet": {"name": "Notes"}}, "sheet must be a sheet's name or its index"),
        ({"sheet": True}, "sheet must be a sheet's name or its index"),
        ({"sheet": 1.5}, "sheet must be a sheet's name or its index"),
        ({"headerRow": "second"}, "headerRow must be a row number from 1"),
        ({"headerRow": 0}, "headerRow must be a row number from 1"),
        ({"headerRow": True}, "headerRow must be a row number from 1"),
        ({"headerRow": [4]}, "headerRow must be a row number from 1"),
        ({"locale": 5}, "locale must be a BCP 47 tag"),
        ({"locale": "  "}, "locale must be a BCP 47 tag"),
        ({"valueMap": ["category"]}, "valueMap must be an object"),
        ({"valueMap": {"category": "Retail"}}, "valueMap.category must be an object"),
        ({"mapping": {"name": "Name"}}, "mapping must be a list"),
        ({"mapping": ["Name"]}, "mapping must be a list"),
        # The first bad key answers, in the order the draft has always been changed.
        ({"headerRow": "x", "locale": 5}, "headerRow must be"),
    ],
)
def test_a_bad_draft_change_is_a_400_naming_it_and_changes_nothing(
    start, app_client, auth, body, says
) -> None:
    code = start((MESSY / "a2_outlets_notes_title_merged.xlsx").read_bytes(), "o.xlsx")
    url = f"{API}/import-jobs/{code}"
    before = app_client.get(url, headers=auth).json()["data"]
    refused(app_client.patch(url, headers=auth, json=body), says)
    after = app_client.get(url, headers=auth).json()["data"]
    assert (after["sheet"], after["headerRow"]) == (before["sheet"], before["headerRow"])
    assert after["validation"]["status"] == before["validation"]["status"]


def test_no_body_is_a_400_naming_the_keys(start, app_client, auth) -> None:
    code = start(csv_bytes(ROWS))
    refused(app_client.patch(f"{API}/import-jobs/{code}", headers=auth), GIVE)


def test_a_draft_change_takes_an_index_a_row_as_text_and_null_to_find_it(
    start, app_client, auth
) -> None:
    code = start((MESSY / "a2_outlets_notes_title_merged.xlsx").read_bytes(), "o.xlsx")
    url = f"{API}/import-jobs/{code}"

    def change(body: dict[str, Any]) -> tuple[str, int]:
        response = app_client.patch(url, headers=auth, json=body)
        assert response.status_code == 200, response.text
        view = response.json()["data"]
        return view["sheet"], view["headerRow"]

    assert change({"sheet": 0}) == ("Notes", 1)  # an index as a number
    assert change({"sheet": "Outlet Data", "headerRow": "4"}) == ("Outlet Data", 4)
    assert change({"headerRow": None}) == ("Outlet Data", 4)  # found again
    assert change({"locale": None}) == ("Outlet Data", 4)  # a key given as null counts
