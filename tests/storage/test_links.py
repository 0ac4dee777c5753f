"""Signed download links to local storage, through `GET /api/v3/files/{org}/{path}`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlparse

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from loadbay.errors import ApiError, Forbidden, Gone, install_error_handlers
from loadbay.files.routes import router
from loadbay.settings import Settings
from loadbay.storage import S3Storage, Storage, get_storage, sign_link, verify_link

KEY = "acme/exports/e1/out.csv"
DATA = b"id,name\n1,\xc3\xa9\n"


@pytest.fixture
def client() -> Iterator[TestClient]:
    app = FastAPI()
    app.include_router(router)
    install_error_handlers(app)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def storage(local_settings: Settings) -> Storage:
    storage = get_storage()
    with storage.writer(KEY) as f:
        f.write(DATA)
    return storage


def _tamper(url: str, **changes: str) -> str:
    parts = urlparse(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changes
    return parts._replace(query=urlencode(query)).geturl()


def _refused(answer: Any, status: int, code: str, message: str) -> None:
    assert answer.status_code == status
    assert answer.json() == {"status": False, "message": message, "failedCode": code}


def test_good_link_downloads_the_exact_bytes(client: TestClient, storage: Storage) -> None:
    url = storage.link("acme", KEY, "out.csv")
    assert url.startswith("http://files.test/api/v3/files/acme/exports/e1/out.csv?")
    answer = client.get(url)
    assert answer.status_code == 200
    assert answer.content == DATA
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["content-disposition"].startswith("attachment;")
    assert "filename*=UTF-8''out.csv" in answer.headers["content-disposition"]
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_head_answers_headers_only(client: TestClient, storage: Storage) -> None:
    answer = client.head(storage.link("acme", KEY, "out.csv"))
    assert answer.status_code == 200
    assert answer.headers["content-length"] == str(len(DATA))
    assert answer.content == b""


@pytest.mark.parametrize(
    ("filename", "content_type"),
    [
        (
            "Laporan Mei 2024 (final).xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        ("导出 données.zip", "application/zip"),
        ('a "quoted"; name.json', "application/json"),
        ("no-extension", "application/octet-stream"),
    ],
)
def test_filename_with_spaces_and_unicode(
    client: TestClient, storage: Storage, filename: str, content_type: str
) -> None:
    answer = client.get(storage.link("acme", KEY, filename))
    assert answer.status_code == 200
    assert answer.content == DATA
    assert answer.headers["content-type"] == content_type
    disposition = answer.headers["content-disposition"]
    # The header itself stays ASCII; the exact name travels percent-encoded in filename*.
    assert disposition.isascii()
    exact = disposition.split("filename*=UTF-8''", 1)[1]
    assert unquote(exact) == filename


def test_tampered_signature_is_refused(client: TestClient, storage: Storage) -> None:
    url = storage.link("acme", KEY, "out.csv")
    sig = parse_qs(urlparse(url).query)["sig"][0]
    flipped = ("0" if sig[0] != "0" else "1") + sig[1:]
    _refused(client.get(_tamper(url, sig=flipped)), 403, "file-035", "Invalid download link")
    _refused(client.get(_tamper(url, sig="é" * 64)), 403, "file-035", "Invalid download link")
    _refused(client.get(_tamper(url, sig="")), 403, "file-035", "Invalid download link")
    _refused(client.get(url.split("?")[0]), 403, "file-035", "Invalid download link")


def test_tampered_expiry_or_name_is_refused(client: TestClient, storage: Storage) -> None:
    url = storage.link("acme", KEY, "out.csv")
    exp = parse_qs(urlparse(url).query)["exp"][0]
    for changed in (str(int(exp) + 3600), "0" + exp, f"+{exp}", "never"):
        _refused(client.get(_tamper(url, exp=changed)), 403, "file-035", "Invalid download link")
    _refused(client.get(_tamper(url, name="other.csv")), 403, "file-035", "Invalid download link")


def test_signature_of_one_organisation_cannot_open_another(
    client: TestClient, storage: Storage
) -> None:
    with storage.writer("other/exports/e1/out.csv") as f:
        f.write(b"secret of other")
    url = storage.link("acme", KEY, "out.csv")
    moved = url.replace("/files/acme/", "/files/other/")
    _refused(client.get(moved), 403, "file-035", "Invalid download link")
    # Nor by walking out of its own folder.
    escape = url.replace(
        "/files/acme/exports/e1/out.csv", "/files/acme/..%2Fother/exports/e1/out.csv"
    )
    _refused(client.get(escape), 403, "file-035", "Invalid download link")


def test_expired_link_is_gone(
    client: TestClient, storage: Storage, local_settings: Settings
) -> None:
    url = sign_link(
        local_settings.public_url, local_settings.signing_key, "acme", KEY, "out.csv", 60, now=1_000
    )
    _refused(client.get(url), 410, "file-032", "Download link expired")


def test_missing_file_is_not_found(client: TestClient, storage: Storage) -> None:
    url = storage.link("acme", "acme/exports/e9/gone.csv", "gone.csv")
    _refused(client.get(url), 404, "file-033", "File not found")


def test_link_signed_with_another_key_is_refused(
    client: TestClient, storage: Storage, local_settings: Settings
) -> None:
    url = sign_link(local_settings.public_url, b"not the key", "acme", KEY, "out.csv", 60)
    _refused(client.get(url), 403, "file-035", "Invalid download link")


def test_verify_link_checks_the_signature_before_the_expiry() -> None:
    key = b"k" * 32
    url = sign_link("http://x", key, "acme", KEY, "a.csv", 10, now=1_000)
    query = {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}
    assert query["exp"] == "1010"
    verify_link(key, "acme", KEY, "1010", "a.csv", query["sig"], now=1_010)
    with pytest.raises(Gone) as gone:
        verify_link(key, "acme", KEY, "1010", "a.csv", query["sig"], now=1_011)
    assert (gone.value.status_code, gone.value.failed_code) == (410, "file-032")
    # A forged link never learns that it would have expired anyway.
    with pytest.raises(Forbidden):
        verify_link(key, "acme", KEY, "1010", "a.csv", "0" * 64, now=5_000)


@pytest.mark.parametrize(
    ("org", "key"), [("acme", "other/x.csv"), ("acme", "acme/../x.csv"), ("", "/x")]
)
def test_sign_link_refuses_keys_outside_the_organisation(org: str, key: str) -> None:
    with pytest.raises(ValueError, match=r"not under organisation|invalid storage key"):
        sign_link("http://x", b"k", org, key, "x.csv", 10)
    with pytest.raises(ApiError) as refused:
        verify_link(b"k", org, key, "99999999999", "x.csv", "0" * 64)
    assert refused.value.status_code == 403


def test_data_dir_files_are_where_settings_say(storage: Storage, local_settings: Settings) -> None:
    assert (Path(local_settings.data_dir) / "files" / KEY).read_bytes() == DATA


def test_route_also_streams_from_s3(client: TestClient, s3_settings: Settings) -> None:
    # S3 links are presigned and never come here, but a local-style link still works.
    settings = s3_settings
    remote = get_storage()
    assert isinstance(remote, S3Storage)
    with remote.writer(KEY) as f:
        f.write(DATA)
    url = sign_link(settings.public_url, settings.signing_key, "acme", KEY, "out.csv", 60)
    answer = client.get(url)
    assert answer.status_code == 200
    assert answer.content == DATA
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    head = client.head(url)
    assert head.headers["content-length"] == str(len(DATA))
    assert head.content == b""
    missing = sign_link(
        settings.public_url, settings.signing_key, "acme", "acme/no.csv", "n.csv", 60
    )
    _refused(client.get(missing), 404, "file-033", "File not found")


@pytest.mark.parametrize("filename", ["ü" * 200 + ".csv", "tab\there\x7f.csv", "a" * 490 + ".csv"])
def test_s3_presigned_link_names_the_download(s3_settings: Settings, filename: str) -> None:
    """The store answers with our Content-Disposition (ResponseContentDisposition), so a
    presigned download is named like a local one, whatever the name holds."""
    import httpx

    from loadbay.storage import content_disposition

    remote = get_storage()
    assert isinstance(remote, S3Storage)
    with remote.writer(KEY) as f:
        f.write(DATA)
    answer = httpx.get(remote.link("acme", KEY, filename, 60))
    assert answer.content == DATA
    header = answer.headers["Content-Disposition"]
    assert header == content_disposition(filename)
    assert unquote(header.split("filename*=UTF-8''", 1)[1]) == filename
