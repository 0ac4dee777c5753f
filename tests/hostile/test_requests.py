"""Hostile requests: odd file names, stalled and oversized uploads, deep JSON, full disks."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pytest

from tests.imports.conftest import csv_bytes

HEADER = ["Outlet Code", "Name"]
ONE_BAD_ROW = csv_bytes([HEADER, ["N1", "Good"], ["N2", ""]])

HOSTILE_NAMES = {
    "long": "a" * 486 + ".csv",
    "umlauts": "ü" * 200 + ".csv",
    "tab": "out\tlets.csv",
    "nul": "out\x00lets.csv",
    "del": "out\x7flets.csv",
    "semicolon": "a; filename=b.csv",
}


def multipart(name: str, content: bytes, **fields: str) -> tuple[bytes, str]:
    """A form body written by hand: HTTP clients escape control characters in a file
    name (as HTML forms do), and the server must also cope with one that does not."""
    boundary = "hostile-boundary-7d1c"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="'.encode()
        + name.encode()
        + b'"\r\nContent-Type: text/csv\r\n\r\n'
        + content
        + b"\r\n"
    )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def _local(link: str) -> str:
    return link.split("127.0.0.1:8000", 1)[1]


def _disposition_names(header: str) -> tuple[str, str]:
    """The ASCII fallback and the RFC 5987 exact name of a Content-Disposition."""
    assert header.startswith('attachment; filename="'), header
    fallback = header.split('filename="', 1)[1].split('"', 1)[0]
    star = header.split("filename*=UTF-8''", 1)[1]
    return fallback, unquote(star, errors="strict")


@pytest.mark.parametrize("which", list(HOSTILE_NAMES))
def test_any_file_name_imports_and_downloads_under_its_own_name(
    which: str, auth: Any, catalog: Any, monitoring: Any, app_client: Any
) -> None:
    name = HOSTILE_NAMES[which]
    body, content_type = multipart(
        name, ONE_BAD_ROW, dataTypeId=catalog["outlet"], hubId=catalog["hub"]
    )
    answer = app_client.post(
        "/api/v3/data/import", headers={**auth, "Content-Type": content_type}, content=body
    )
    assert answer.status_code == 200, answer.text
    job = monitoring(answer.json()["data"]["_id"])
    assert job["status"] == "partially", job
    shown = name.replace("\x00", "\ufffd")  # PostgreSQL text cannot hold NUL
    assert job["filename"] == shown
    response = app_client.get(_local(job["fileFailedImported"]))
    assert response.status_code == 200, response.text
    assert "N2" in response.content.decode("utf-8-sig")
    header = response.headers["content-disposition"]
    assert header.isascii() and "\n" not in header and "\x00" not in header
    fallback, exact = _disposition_names(header)
    stem = "".join("_" if ord(c) < 32 or ord(c) == 127 else c for c in shown[:-4])[:120]
    assert exact == f"failed_{stem}_{job['_id']}.csv"
    assert all(32 <= ord(c) < 127 and c not in '"\\' for c in fallback)
    assert fallback.endswith(".csv") and len(fallback) <= 150
    # The stored object is named by ids, whatever the upload was called.
    path = _local(job["fileFailedImported"]).split("?", 1)[0]
    assert path.rsplit("/", 1)[1] == "failed.csv"
    assert quote(name[:20], safe="") not in path


def test_content_disposition_is_ascii_with_an_exact_utf8_name() -> None:
    from loadbay.storage import content_disposition

    header = content_disposition('Grüße "Q1"; x=\\y\r\n.csv')
    fallback, exact = _disposition_names(header)
    assert header.isascii()
    assert fallback == "Gru_e _Q1__ x=_y__.csv"
    assert exact == 'Grüße "Q1"; x=\\y\r\n.csv'
    long = content_disposition("ü" * 400 + ".xlsx")
    fallback, exact = _disposition_names(long)
    assert fallback == "u" * 145 + ".xlsx" and exact == "ü" * 400 + ".xlsx"


# --- stalled, abandoned and oversized uploads against a real server ----------------------


@pytest.fixture
def live_server(make_app: Callable[..., Any]) -> Iterator[Callable[..., int]]:
    """`live_server(**overrides)`: an app built for its own settings under uvicorn on a
    free loopback port, in a thread of this process; its port."""
    import uvicorn

    started: list[tuple[Any, threading.Thread, socket.socket]] = []

    def _serve(**overrides: Any) -> int:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        server = uvicorn.Server(uvicorn.Config(make_app(**overrides), log_level="warning"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
        thread.start()
        started.append((server, thread, listener))
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        return int(listener.getsockname()[1])

    yield _serve
    for server, thread, listener in started:
        server.should_exit = True
        thread.join(10)
        listener.close()


def _upload_files(data_dir: Path) -> set[Path]:
    return set((data_dir / "tmp").glob("upload-*"))


def _start_upload(port: int, auth: dict[str, str], declared: int, sent: bytes) -> socket.socket:
    conn = socket.create_connection(("127.0.0.1", port))
    head = (
        "POST /api/v3/data/import HTTP/1.1\r\nHost: loadbay.test\r\n"
        f"Authorization: {auth['Authorization']}\r\n"
        "Content-Type: multipart/form-data; boundary=BOUND\r\n"
        f"Content-Length: {declared}\r\n\r\n"
    )
    part = b'--BOUND\r\nContent-Disposition: form-data; name="file"; filename="s.csv"\r\n\r\n'
    conn.sendall(head.encode() + part + sent)
    return conn


def _wait_for(check: Any, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _response(conn: socket.socket, timeout: float) -> tuple[int, dict[str, Any]]:
    conn.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
        block = conn.recv(65536)
        if not block:
            break
        data += block
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def test_a_stalled_upload_ends_with_408_and_its_temp_file_goes(
    live_server: Callable[..., int], auth: dict[str, str], data_dir: Path
) -> None:
    port = live_server(upload_idle_seconds=1)
    before = _upload_files(data_dir)
    conn = _start_upload(port, auth, 100_000_000, b"x" * 65536)
    try:
        _wait_for(lambda: _upload_files(data_dir) - before)
        started = time.monotonic()
        status, body = _response(conn, timeout=10)
        waited = time.monotonic() - started
    finally:
        conn.close()
    assert status == 408
    assert body == {
        "status": False,
        "message": "The upload sent nothing for 1 seconds",
        "failedCode": "import-041",
    }
    assert waited < 5
    assert _upload_files(data_dir) - before == set()


def test_a_client_that_goes_away_leaves_no_temp_file_and_a_log_line(
    live_server: Callable[..., int],
    auth: dict[str, str],
    data_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="loadbay.upload")
    before = _upload_files(data_dir)
    conn = _start_upload(live_server(), auth, 100_000_000, b"x" * 65536)
    _wait_for(lambda: _upload_files(data_dir) - before)
    conn.close()
    _wait_for(lambda: not _upload_files(data_dir) - before)
    _wait_for(lambda: "client went away" in caplog.text)
    assert "Malformed" not in caplog.text


def test_a_declared_length_over_the_limit_is_refused_before_any_byte_is_read(
    live_server: Callable[..., int], auth: dict[str, str], data_dir: Path
) -> None:
    port = live_server(max_upload_bytes=1000)
    before = _upload_files(data_dir)
    conn = _start_upload(port, auth, 2 * 1024**3, b"x" * 1000)
    try:
        status, body = _response(conn, timeout=10)
    finally:
        conn.close()
    assert (status, body["failedCode"]) == (413, "import-040")
    assert _upload_files(data_dir) == before


def test_a_file_over_the_limit_mid_stream_leaves_no_temp_file(
    upload_for: Callable[..., Any], data_dir: Path
) -> None:
    upload = upload_for(max_upload_bytes=100_000)
    before = _upload_files(data_dir)
    answer = upload(b"a,b\r\n" * 100_000)
    assert (answer.status_code, answer.json()["failedCode"]) == (413, "import-040")
    assert _upload_files(data_dir) == before


def test_start_up_removes_upload_temp_files_of_dead_processes(
    sqlite_db: Any, data_dir: Path
) -> None:
    from fastapi.testclient import TestClient

    from loadbay.api import create_app
    from loadbay.scratch import this_space

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    tmp = data_dir / "tmp"
    tmp.mkdir(exist_ok=True)
    space = this_space()
    stale = tmp / f"upload-{space}-{dead.pid}-abc123"
    live = tmp / f"upload-{space}-{os.getppid()}-def456"
    other_host = tmp / f"upload-elsewhere-1-{dead.pid}-ghi789"
    for path in (stale, live, other_host):
        path.write_bytes(b"partial upload")
    try:
        with TestClient(create_app()):
            pass
        assert not stale.exists()
        assert live.exists() and other_host.exists()
    finally:
        for path in (stale, live, other_host):
            path.unlink(missing_ok=True)


# --- form fields -------------------------------------------------------------------------


def _many_small_fields(total_bytes: int) -> tuple[bytes, str]:
    part = b'--BOUND\r\nContent-Disposition: form-data; name="f"\r\n\r\n1\r\n'
    body = part * (total_bytes // len(part)) + b"--BOUND--\r\n"
    return body, "multipart/form-data; boundary=BOUND"


def test_100_mb_of_small_form_fields_is_refused_at_1_mb_quickly(
    app_client: Any, auth: dict[str, str]
) -> None:
    body, content_type = _many_small_fields(100 * 1024 * 1024)
    started = time.process_time()
    answer = app_client.post(
        "/api/v3/data/import", headers={**auth, "Content-Type": content_type}, content=body
    )
    cpu = time.process_time() - started
    assert answer.status_code == 413
    assert answer.json() == {
        "status": False,
        "message": "Form fields are larger than the limit of 1048576 bytes in all",
        "failedCode": "import-040",
    }
    assert cpu < 1.0, f"{cpu:.2f} s of CPU"


def test_form_fields_under_the_cap_still_work(upload: Any, monitoring: Any) -> None:
    answer = upload(ONE_BAD_ROW, note="x" * 60_000, other="y" * 60_000)
    assert answer.status_code == 200, answer.text


# --- JSON nesting ------------------------------------------------------------------------


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


DEEP_FILES = {
    "json-100000": (f'[{{"Outlet Code": "D1", "Name": {_nested(100_000)}}}]', "deep.json"),
    "json-100": (f'[{{"Outlet Code": "D1", "Name": {_nested(100)}}}]', "deep.json"),
    "ndjson-100000": (
        f'{{"Outlet Code": "D0", "Name": "ok"}}\n{{"Outlet Code": "D1", "Name": {_nested(100_000)}}}\n',
        "deep.ndjson",
    ),
}
TOO_DEEP = "Row 2: JSON is nested deeper than the limit of 64 levels"


@pytest.mark.parametrize("case", list(DEEP_FILES))
def test_a_deeply_nested_json_file_is_named_in_preview_and_import(
    case: str, app_client: Any, auth: dict[str, str], catalog: Any, upload: Any, monitoring: Any
) -> None:
    text, name = DEEP_FILES[case]
    message = TOO_DEEP if case.startswith("json") else TOO_DEEP.replace("Row 2", "Row 3")
    preview = app_client.post(
        "/api/v3/import-jobs",
        headers=auth,
        data={"dataTypeId": catalog["outlet"], "hubId": catalog["hub"]},
        files={"file": (name, text.encode())},
    )
    assert preview.status_code == 400, preview.text
    assert preview.json() == {"status": False, "message": message, "failedCode": "import-015"}
    started = time.monotonic()
    answer = upload(text.encode(), filename=name)
    assert answer.status_code == 200, answer.text
    job = monitoring(answer.json()["data"]["_id"])
    assert job["status"] == "failed", job
    assert message in job["errorMessage"]
    assert time.monotonic() - started < 5


def test_nesting_at_the_limit_still_imports(upload: Any, monitoring: Any) -> None:
    text = f'[{{"Outlet Code": "D1", "Name": "n", "Extra": {_nested(63)}}}]'
    job = monitoring(upload(text.encode(), filename="ok.json").json()["data"]["_id"])
    assert job["status"] == "success", job


@pytest.mark.parametrize("depth", [100, 990, 100_000])
@pytest.mark.parametrize(
    ("path", "module"),
    [
        ("/api/v3/hub", "hub"),
        ("/api/v3/data-type", "datatype"),
        ("/api/v3/tasks/export", "export"),
    ],
)
def test_a_deeply_nested_request_body_is_400_015_naming_the_limit(
    app_client: Any, auth: dict[str, str], path: str, module: str, depth: int
) -> None:
    body = '{"name": ' + _nested(depth) + "}"
    answer = app_client.post(
        path, headers={**auth, "Content-Type": "application/json"}, content=body
    )
    assert answer.status_code == 400, answer.text
    assert answer.json() == {
        "status": False,
        "message": "The body is nested deeper than the limit of 64 levels",
        "failedCode": f"{module}-015",
    }


# --- a full disk -------------------------------------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 256 KB tmpfs: writes past it fail with ENOSPC, as on a full disk."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


STORAGE_FULL = {
    "status": False,
    "message": "Storage is full: try again later",
    "failedCode": "server-045",
}
BIG_CSV = csv_bytes([HEADER] + [[f"F{i}", "x" * 40] for i in range(20_000)])  # ~1 MB


def test_a_full_disk_under_the_upload_is_507_with_a_log_line(
    upload_for: Callable[..., Any],
    tiny_disk: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    upload = upload_for(data_dir=tiny_disk)
    caplog.set_level(logging.ERROR, logger="loadbay.upload")
    answer = upload(BIG_CSV)
    assert answer.status_code == 507, answer.text
    assert answer.json() == STORAGE_FULL
    assert "storage full" in caplog.text
    assert list((tiny_disk / "tmp").iterdir()) == []


def test_a_full_file_store_is_507_and_records_no_job(
    upload_for: Callable[..., Any],
    app_client: Any,
    auth: dict[str, str],
    tiny_disk: Path,
    data_dir: Path,
) -> None:
    from loadbay.storage import reset_storage

    upload = upload_for(storage_url=f"file://{tiny_disk}/files")
    before = _upload_files(data_dir)
    try:
        answer = upload(BIG_CSV)
    finally:
        reset_storage()
    assert answer.status_code == 507, answer.text
    assert answer.json() == STORAGE_FULL
    assert [p for p in (tiny_disk / "files").rglob("*") if p.is_file()] == []
    assert _upload_files(data_dir) == before
    listed = app_client.get("/api/v3/import-monitoring", headers=auth).json()["data"]
    assert listed["total"] == 0, listed
