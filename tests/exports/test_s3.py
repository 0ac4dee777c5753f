"""Exports into S3 (moto on loopback): the writers stream into the multipart sink and the
link is a presigned URL that downloads the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import AppFactory
from tests.exports.conftest import Exporter, Seeded, read_xlsx, read_zip
from tests.storage.conftest import MotoS3, moto_s3

__all__ = ["moto_s3"]  # a fixture shared with the storage tests


@pytest.fixture
def exporter(
    moto_s3: MotoS3, app_for: AppFactory, auth: dict[str, str], tmp_path: Path
) -> Exporter:
    """An app whose files live in S3 (moto), under a fresh prefix."""
    client = app_for(data_dir=tmp_path, public_url="http://files.test", **moto_s3.settings())
    return Exporter(client, auth)


@pytest.mark.parametrize("fmt", ["xlsx", "json"])
def test_export_to_s3(seeded: Seeded, exporter: Exporter, fmt: str) -> None:
    body = exporter.ok("data", download=fmt, dataTypeId=seeded.outlet, background=fmt == "json")
    if fmt == "json":
        log = exporter.client.get("/api/v3/tasks/export-log", headers=exporter.auth).json()
        link: Any = log["data"][0]["_source"]["fileUrl"]
    else:
        link = body["data"]["link"]
    assert "X-Amz-Signature=" in link
    content = httpx.get(link).content
    if fmt == "xlsx":
        assert len(read_xlsx(content)) == 6
    else:
        assert len(read_zip(content)[1]) == 5
