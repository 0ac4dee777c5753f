"""The import review grid (issue 10, items 3 and 4) on every engine: the whole file is
checked before anything is written, and rows are read, fixed and discarded."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from loadbay.catalog.models import Record
from loadbay.db import Database
from tests.imports.conftest import csv_bytes

API = "/api/v3"
HEAD = ["Outlet Code", "Name", "Email", "Category"]


def outlets(n: int, bad: dict[int, list[str]] | None = None) -> bytes:
    """n rows K1..Kn (file rows 2..n+1); `bad` replaces the cells of some file rows."""
    rows: list[list[Any]] = [HEAD]
    for i in range(1, n + 1):
        rows.append([f"K{i}", f"Toko {i}", f"k{i}@shop.id", "Retail"])
    for row, cells in (bad or {}).items():
        rows[row - 1] = cells
    return csv_bytes(rows)


@pytest.fixture
def preview(app_client: TestClient, auth: dict[str, str], catalog: dict[str, str]) -> Any:
    def _preview(content: bytes, **form: str) -> dict[str, Any]:
        data = {"dataTypeId": catalog["outlet"], "hubId": catalog["hub"], **form}
        response = app_client.post(
            f"{API}/import-jobs", headers=auth, data=data, files={"file": ("o.csv", content)}
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()["data"]
        return body

    return _preview


def rows(client: TestClient, auth: dict[str, str], code: str, **query: Any) -> dict[str, Any]:
    response = client.get(f"{API}/import-jobs/{code}/rows", headers=auth, params=query)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()["data"]
    return body


def records(db: Database) -> dict[str, dict[str, Any]]:
    with db.read() as session:
        return {r.data_id: r.data for r in session.scalars(sa.select(Record))}


BAD = {
    40: ["K39", "Toko 39", "not-an-email", "Retail"],
    45: ["K44", "", "k44@shop.id", "Retail"],
    50: ["K49", "Toko 49", "also bad", "retail "],
}


def test_whole_file_is_validated_and_errors_grouped(preview, app_client, auth) -> None:
    """Before: only the first 10 rows were checked, so bad rows past them showed 0 errors."""
    body = preview(outlets(60, BAD))
    validation = body["validation"]
    assert validation["status"] == "Done"
    assert validation["totalRows"] == 60 and validation["processedRows"] == 60
    assert (validation["valid"], validation["invalid"]) == (57, 3)
    assert validation["warnings"] == 1  # "retail " was read as "Retail"
    assert validation["forecast"] == {"create": 57, "update": 0, "skip": 0}
    groups = {(g["column"], g["code"]): g for g in validation["errors"]}
    assert groups[("Email", "invalid_email")]["count"] == 2
    assert groups[("Email", "invalid_email")]["firstRows"] == [40, 50]
    assert groups[("Email", "invalid_email")]["field"] == "email"
    assert groups[("Name", "required")]["firstRows"] == [45]
    assert groups[("Name", "required")]["reason"] == "required value missing"
    job = app_client.get(f"{API}/import-jobs/{body['code']}", headers=auth).json()["data"]
    assert job["status"] == "Queued" and job["validation"]["invalid"] == 3


def test_forecast_looks_up_existing_records(preview, upload, db) -> None:
    assert upload(outlets(3)).status_code == 200  # K1..K3 exist
    content = csv_bytes([HEAD, ["K2", "a", "", ""], ["K3", "b", "", ""], ["K9", "c", "", ""]])
    assert preview(content)["validation"]["forecast"] == {"create": 1, "update": 2, "skip": 0}
    only_new = preview(content, importMode="CreateOnly")["validation"]["forecast"]
    assert only_new == {"create": 1, "update": 0, "skip": 2}


def test_rows_page_with_filters(preview, app_client, auth) -> None:
    code = preview(outlets(60, BAD))["code"]
    page = rows(app_client, auth, code, filter="all", page=2, limit=10)
    assert page["total"] == 60 and [r["row"] for r in page["data"]][:2] == [12, 13]
    assert page["data"][0]["cells"] == {
        "Outlet Code": "K11", "Name": "Toko 11", "Email": "k11@shop.id", "Category": "Retail"
    }  # fmt: skip
    invalid = rows(app_client, auth, code, filter="invalid")
    assert [r["row"] for r in invalid["data"]] == [40, 45, 50]
    issue = invalid["data"][0]["issues"][0]
    assert issue["column"] == "Email" and issue["severity"] == "error"
    assert issue["code"] == "invalid_email" and "not-an-email" in issue["message"]
    warned = invalid["data"][2]["issues"]
    assert {i["severity"] for i in warned} == {"error", "warning"}
    assert [i["suggestion"] for i in warned if i["severity"] == "warning"] == ["Retail"]
    valid = rows(app_client, auth, code, filter="valid", page=4, limit=10)
    assert valid["total"] == 57
    assert 40 not in [r["row"] for r in valid["data"]] and len(valid["data"]) == 10
    by_column = rows(app_client, auth, code, filter="invalid", column="Name")
    assert [r["row"] for r in by_column["data"]] == [45]
    by_reason = rows(app_client, auth, code, reason="invalid_email")
    assert [r["row"] for r in by_reason["data"]] == [40, 50]


def test_edit_revalidates_is_stored_and_applied_at_commit(preview, app_client, auth, db) -> None:
    code = preview(outlets(60, BAD))["code"]
    url = f"{API}/import-jobs/{code}/rows"
    fixed = app_client.patch(
        url, headers=auth, json={"rows": [{"row": 40, "cells": {"Email": "ok@shop.id"}}]}
    )
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["data"] == [
        {
            "row": 40,
            "cells": {"Outlet Code": "K39", "Name": "Toko 39", "Email": "ok@shop.id", "Category": "Retail"},
            "issues": [],
            "discarded": False,
        }
    ]  # fmt: skip
    still = app_client.patch(
        url, headers=auth, json={"rows": [{"row": 45, "cells": {"Email": "x"}}]}
    )
    codes = {i["code"] for i in still.json()["data"][0]["issues"]}
    assert codes == {"required", "invalid_email"}
    gone = app_client.patch(url, headers=auth, json={"rows": [{"row": 50, "discard": True}]})
    assert gone.json()["data"][0]["discarded"] is True
    validation = app_client.get(f"{API}/import-jobs/{code}", headers=auth).json()["data"][
        "validation"
    ]
    assert (validation["valid"], validation["invalid"]) == (58, 1)
    assert validation["forecast"] == {"create": 58, "update": 0, "skip": 1}
    # the errors grouped count the rows still invalid: 45's name; 50 is discarded
    assert [(g["column"], g["count"], g["firstRows"]) for g in validation["errors"]] == [
        ("Email", 1, [45]),
        ("Name", 1, [45]),
    ]
    # stored: read again, the edited cell is there
    assert (
        rows(app_client, auth, code, filter="all", page=39, limit=1)["data"][0]["cells"]["Email"]
        == "ok@shop.id"
    )
    done = app_client.put(f"{API}/import-jobs/{code}", headers=auth, json={})
    assert done.status_code in (201, 202), done.text
    job = app_client.get(f"{API}/import-jobs/{code}", headers=auth).json()["data"]
    assert job["createdCount"] == 58 and job["skippedCount"] == 1 and job["errorCount"] == 1
    stored = records(db)
    assert stored["K39"]["email"] == "ok@shop.id"
    assert "K49" not in stored and "K44" not in stored


def test_an_edit_keeps_a_duplicate_key_and_counts_a_fixed_one(preview, app_client, auth) -> None:
    """Before: an edit re-checked the row without the file's other keys, so editing any
    cell of a duplicate row dropped its duplicate error, and fixing its key left the
    forecast one create short (the row had been counted as valid before the edit)."""
    code = preview(outlets(10, {8: ["K3", "Toko dup", "d@shop.id", "Retail"]}))["code"]
    url = f"{API}/import-jobs/{code}/rows"

    def validation() -> dict[str, Any]:
        view = app_client.get(f"{API}/import-jobs/{code}", headers=auth).json()["data"]
        found: dict[str, Any] = view["validation"]
        return found

    assert validation()["invalid"] == 1 and validation()["forecast"]["create"] == 9
    other = app_client.patch(
        url, headers=auth, json={"rows": [{"row": 8, "cells": {"Email": "e@shop.id"}}]}
    )
    issues = other.json()["data"][0]["issues"]
    assert [(i["code"], i["message"]) for i in issues] == [("duplicate", "duplicate of row 4")]
    assert validation()["invalid"] == 1 and validation()["forecast"]["create"] == 9
    key = app_client.patch(
        url, headers=auth, json={"rows": [{"row": 8, "cells": {"Outlet Code": "K99"}}]}
    )
    assert key.json()["data"][0]["issues"] == []
    assert validation()["invalid"] == 0
    assert validation()["forecast"] == {"create": 10, "update": 0, "skip": 0}


def test_the_commit_reads_keys_and_the_invalid_rule_after_the_reviews_edits(
    preview, app_client, auth, db
) -> None:
    """Before: the plan step looked for duplicate keys and applied invalidRows=block to
    the file as uploaded, so a duplicate key fixed in the review still failed as a
    duplicate, and a file whose every bad row was fixed or discarded was refused."""
    bad = {8: ["K3", "Toko dup", "d@shop.id", "Retail"], 9: ["K8", "", "e@shop.id", "Retail"]}
    code = preview(outlets(10, bad))["code"]
    url = f"{API}/import-jobs/{code}/rows"
    edits = {"rows": [{"row": 8, "cells": {"Outlet Code": "K99"}}, {"row": 9, "discard": True}]}
    assert app_client.patch(url, headers=auth, json=edits).status_code == 200
    done = app_client.put(f"{API}/import-jobs/{code}", headers=auth, json={"invalidRows": "block"})
    assert done.status_code in (201, 202), done.text
    job = app_client.get(f"{API}/import-jobs/{code}", headers=auth).json()["data"]
    assert job["status"] == "Completed", job
    assert (job["createdCount"], job["errorCount"], job["skippedCount"]) == (9, 0, 1)
    assert records(db)["K99"]["name"] == "Toko dup"


def test_edit_refuses_unknown_rows_and_columns(preview, app_client, auth) -> None:
    code = preview(outlets(5))["code"]
    url = f"{API}/import-jobs/{code}/rows"
    far = app_client.patch(url, headers=auth, json={"rows": [{"row": 99, "discard": True}]})
    assert far.status_code == 400 and "row 99" in far.json()["message"]
    col = app_client.patch(url, headers=auth, json={"rows": [{"row": 2, "cells": {"Nope": "x"}}]})
    assert col.status_code == 400 and "'Nope'" in col.json()["message"]


def test_patch_draft_mapping_restarts_validation(preview, app_client, auth) -> None:
    body = preview(outlets(60, BAD))
    code = body["code"]
    mapping = [
        {"id": "dataId", "headerColumn": "Outlet Code"},
        {"id": "name", "headerColumn": "Name"},
        {"headerColumn": "Email", "ignore": True},
        {"id": "category", "headerColumn": "Category"},
    ]
    changed = app_client.patch(
        f"{API}/import-jobs/{code}", headers=auth,
        json={"mapping": mapping, "valueMap": {"category": {"retail ": "Retail"}}, "locale": "id-ID"},
    )  # fmt: skip
    assert changed.status_code == 200, changed.text
    validation = changed.json()["data"]["validation"]
    assert validation["status"] == "Done" and validation["invalid"] == 1
    assert [g["code"] for g in validation["errors"]] == ["required"]
    conflict = app_client.patch(
        f"{API}/import-jobs/{code}", headers=auth,
        json={"mapping": [{"id": "name", "headerColumn": "Name"}, {"id": "email", "headerColumn": "Name"}]},
    )  # fmt: skip
    assert conflict.status_code == 400 and "Name" in conflict.json()["message"]
    done = app_client.put(f"{API}/import-jobs/{code}", headers=auth, json={})
    assert done.status_code in (201, 202), done.text
    assert done.json()["data"]["ignoredColumns"] == ["Email"]


def test_another_organisations_job_is_not_found(preview, app_client, token_for) -> None:
    code = preview(outlets(5))["code"]
    other = {"Authorization": f"Bearer {token_for('other', 'x@other.test')}"}
    assert app_client.get(f"{API}/import-jobs/{code}/rows", headers=other).status_code == 404
    edit = {"rows": [{"row": 2, "discard": True}]}
    assert (
        app_client.patch(f"{API}/import-jobs/{code}/rows", headers=other, json=edit).status_code
        == 404
    )
    assert (
        app_client.patch(
            f"{API}/import-jobs/{code}", headers=other, json={"locale": "id-ID"}
        ).status_code
        == 404
    )


def test_a_value_map_set_on_the_draft_reaches_the_whole_file_check(
    preview, app_client, auth
) -> None:
    """The review checks values as the commit will: a value map PATCHed on the draft turns
    a misspelt option valid (it was stored and ignored by the review before)."""
    misspelt = {n: [f"K{n - 1}", f"Toko {n - 1}", f"k{n - 1}@shop.id", "Retial"] for n in (3, 7)}
    body = preview(outlets(10, misspelt))
    assert body["validation"]["invalid"] == 2
    code = body["code"]
    patched = app_client.patch(
        f"{API}/import-jobs/{code}",
        headers=auth,
        json={"valueMap": {"category": {"Retial": "Retail"}}},
    )
    assert patched.status_code == 200, patched.text
    job = app_client.get(f"{API}/import-jobs/{code}", headers=auth).json()["data"]
    assert job["validation"]["status"] == "Done"
    assert (job["validation"]["valid"], job["validation"]["invalid"]) == (10, 0)
    bad = app_client.patch(
        f"{API}/import-jobs/{code}",
        headers=auth,
        json={"valueMap": {"category": {"Retial": "Nonsense"}}},
    )
    assert bad.status_code == 400 and bad.json()["failedCode"] == "import-003", bad.text
