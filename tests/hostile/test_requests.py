"""Hostile requests: odd file names, stalled and oversized uploads, deep JSON, full disks."""

from __future__ import annotations

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
