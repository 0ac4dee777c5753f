"""Hostile spreadsheets: each ends as a clear error, no process balloons, the API stays up."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.hostile import fixtures

API = "/api/v3"
FAR_CELL = "Cell XFD1048576 is beyond the last column allowed (SF, column 500)"
FAR_XLS = "Cell XFD65536 is beyond the last column allowed (SF, column 500)"
PASSWORD = "The workbook is password-protected; remove the password and upload it again"
PEAK_LIMIT_MB = 300

# (fixture, format, failedCode, message or its start)
CASES: dict[str, tuple[Callable[[Path], Path], str, str, str]] = {
    "far-cell.xlsx": (fixtures.far_cell_xlsx, "xlsx", "import-040", FAR_CELL),
    "far-cell.xls": (fixtures.far_cell_xls, "xls", "import-040", FAR_XLS),
    "tall.xls": (
        lambda p: fixtures.far_cell_xls(p, 65535, 255),
        "xls",
        "import-040",
        "Sheet #1 spans 16777216 cells from its first to its last cell (rows 1-65536); "
        "the limit for XLS is 4000000",
    ),
    "shared-strings-bomb.xlsx": (
        fixtures.shared_strings_bomb,
        "xlsx",
        "import-040",
        "The workbook part xl/sharedStrings.xml is too large when uncompressed (1610514547 "
        "bytes from",
    ),
    "lying-directory.xlsx": (
        fixtures.lying_shared_strings,
        "xlsx",
        "import-040",
        "The workbook part xl/sharedStrings.xml inflates to more than its declared 1024 bytes",
    ),
}

_READ = """
import json, sys
from pathlib import Path
from loadbay.tabular.readers import Limits, TableError, open_table
try:
    with open_table(Path(sys.argv[1]), sys.argv[2], limits=Limits()) as table:
        outcome = ["ok", sum(1 for _ in table.rows())]
except TableError as exc:
    outcome = [exc.code, exc.message]
# VmHWM belongs to this process's own memory map; ru_maxrss would carry over the
# parent's peak through vfork + exec and measure pytest instead of the reader.
hwm = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmHWM"))
peak = int(hwm.split()[1]) // 1024
print(json.dumps([*outcome, peak]))
"""


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("hostile")
    return {name: make(folder / name) for name, (make, *_) in CASES.items()}


@pytest.mark.parametrize("name", list(CASES))
def test_the_reader_names_the_cell_or_part_within_300_mb(name: str, files: dict[str, Path]) -> None:
    """In a child process: an abort there fails this test instead of the suite."""
    _, fmt, code, message = CASES[name]
    done = subprocess.run(
        [sys.executable, "-c", _READ, str(files[name]), fmt],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    got_code, got_message, peak_mb = json.loads(done.stdout)
    assert got_code == code and got_message.startswith(message), got_message
    assert peak_mb < PEAK_LIMIT_MB


def _healthy(client: TestClient) -> None:
    assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize("name", list(CASES))
def test_an_import_fails_naming_the_cell_or_part(
    name: str,
    files: dict[str, Path],
    upload: Any,
    monitoring: Callable[[str], dict[str, Any]],
    app_client: TestClient,
) -> None:
    _, _, _, message = CASES[name]
    response = upload(files[name].read_bytes(), filename=name)
    assert response.status_code == 200, response.text
    job = monitoring(response.json()["data"]["_id"])
    assert job["status"] == "failed"
    assert job["errorMessage"].startswith(message), job["errorMessage"]
    _healthy(app_client)


@pytest.mark.parametrize("name", list(CASES))
def test_a_preview_answers_400_naming_the_cell_or_part(
    name: str,
    files: dict[str, Path],
    app_client: TestClient,
    auth: dict[str, str],
    catalog: dict[str, str],
) -> None:
    _, _, code, message = CASES[name]
    response = app_client.post(
        f"{API}/import-jobs",
        headers=auth,
        data={"dataTypeId": catalog["outlet"], "hubId": catalog["hub"]},
        files={"file": (name, files[name].read_bytes())},
    )
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["status"] is False and body["failedCode"] == code
    assert body["message"].startswith(message), body["message"]
    _healthy(app_client)


@pytest.mark.parametrize("path", ["/data/import", "/import-jobs"])
def test_a_password_protected_workbook_is_called_that(
    path: str,
    tmp_path: Path,
    app_client: TestClient,
    auth: dict[str, str],
    catalog: dict[str, str],
) -> None:
    content = fixtures.encrypted_xlsx(tmp_path / "secret.xlsx").read_bytes()
    response = app_client.post(
        f"{API}{path}",
        headers=auth,
        data={"dataTypeId": catalog["outlet"], "hubId": catalog["hub"]},
        files={"file": ("secret.xlsx", content)},
    )
    assert response.status_code == 422, response.text
    assert response.json() == {
        "status": False,
        "message": "The file must be a file of type: csv, xls, xlsx.",
        "failedCode": "import-002",
        "detail": PASSWORD,
    }
    _healthy(app_client)


def test_the_reader_calls_an_encrypted_workbook_password_protected(tmp_path: Path) -> None:
    from loadbay.tabular.readers import TableError, open_table

    path = fixtures.encrypted_xlsx(tmp_path / "secret.xlsx")
    with pytest.raises(TableError) as caught, open_table(path, "xls"):
        pass
    assert (caught.value.code, caught.value.message) == ("import-015", PASSWORD)


def test_a_preview_child_out_of_memory_answers_400(
    app_for: Callable[..., TestClient],
    auth: dict[str, str],
    catalog: dict[str, str],
) -> None:
    """The limit is the child's, so a reader that balloons costs the preview, not the API."""
    client = app_for(preview_memory_bytes=1024**2)  # below what the child holds already
    rows = "\r\n".join(f"O{i},Name {i}" for i in range(200_000))
    response = client.post(
        f"{API}/import-jobs",
        headers=auth,
        data={"dataTypeId": catalog["outlet"], "hubId": catalog["hub"]},
        files={"file": ("big.csv", f"Outlet Code,Name\r\n{rows}\r\n".encode())},
    )
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["failedCode"] == "import-040"
    assert "memory" in body["message"], body["message"]
    _healthy(client)
