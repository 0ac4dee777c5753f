"""Imports and exports with `LOADBAY_STORAGE_URL=s3://…` on moto's server (loopback): the
upload, the chunk files and the failed-rows file are S3 objects, and downloads are presigned
URLs that fetch straight from the store, with no loadbay process in between."""

from __future__ import annotations

import csv
import io
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from fastapi.testclient import TestClient

from loadbay.settings import Settings, get_settings
from tests.imports.conftest import Uploader, csv_bytes
from tests.storage.conftest import MotoS3


def fetch(url: str) -> tuple[bytes, dict[str, str]]:
    assert urlparse(url).hostname == "127.0.0.1", url
    with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 (loopback moto)
        assert answer.status == 200
        return answer.read(), dict(answer.headers)


def objects(moto_s3: MotoS3, prefix: str) -> list[str]:
    listed = moto_s3.client.list_objects_v2(Bucket=moto_s3.bucket, Prefix=prefix)
    return sorted(o["Key"][len(prefix) :] for o in listed.get("Contents", []))


def test_import_and_export_files_live_in_s3(
    s3_settings: Settings,
    moto_s3: MotoS3,
    monkeypatch: pytest.MonkeyPatch,
    upload: Uploader,
    monitoring: Callable[[str], dict[str, Any]],
    app_client: TestClient,
    auth: dict[str, str],
    catalog: dict[str, str],
    org_id: str,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("LOADBAY_CHUNK_SIZE", "40")
    get_settings.cache_clear()  # s3_settings clears it again at teardown
    prefix = urlparse(get_settings().storage_url).path.strip("/") + "/"
    rows = [["Outlet Code", "Name"]]
    rows += [[f"S{i:04d}", "" if i % 20 == 3 else f"Outlet {i}"] for i in range(200)]

    response = upload(csv_bytes(rows), filename="outlets.csv")
    assert response.status_code == 200, response.text
    job_id = response.json()["data"]["_id"]
    job = monitoring(job_id)
    assert (job["status"], job["totalRows"], job["totalValid"], job["totalInvalid"]) == (
        "partially",
        200,
        190,
        10,
    )

    stored = objects(moto_s3, f"{prefix}{org_id}/imports/{job_id}/")
    chunks = [k for k in stored if k.startswith("chunks/")]
    assert chunks == [f"chunks/{n:06d}.json" for n in range(5)]
    made = ("failed.csv", "failed_rows.xlsx", "not_imported.csv")  # keys are ids, not names
    assert set(made) <= set(stored)
    failed_name = f"failed_outlets_{job_id}.csv"  # the name is for the download only
    uploads = [k for k in stored if k not in chunks and k not in made]
    assert len(uploads) == 1 and uploads[0].endswith(".csv"), stored
    original = moto_s3.client.get_object(
        Bucket=moto_s3.bucket, Key=f"{prefix}{org_id}/imports/{job_id}/{uploads[0]}"
    )["Body"].read()
    assert original == csv_bytes(rows)
    assert not (tmp_path / "files").exists(), "nothing may land in the local data folder"

    link = job["fileFailedImported"]
    assert link.startswith(moto_s3.endpoint_url + "/") and "X-Amz-Signature=" in link
    content, headers = fetch(link)
    assert failed_name in headers["Content-Disposition"]
    failed = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert failed[0] == ["Row", "Outlet Code", "Name", "Error"]
    assert [r[1] for r in failed[1:]] == [f"S{i:04d}" for i in range(3, 200, 20)]
    assert all(r[3] for r in failed[1:]), "every failed row says why"

    exported = app_client.post(
        "/api/v3/data/export",
        params={"download": "csv", "dataTypeId": catalog["outlet"]},
        headers=auth,
    )
    assert exported.status_code == 200, exported.text
    export_link = exported.json()["data"]["link"]
    assert export_link.startswith(moto_s3.endpoint_url + "/") and "X-Amz-Signature=" in export_link
    content, _ = fetch(export_link)
    records = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    codes = sorted(r[records[0].index("Outlet Code")] for r in records[1:])
    assert codes == [f"S{i:04d}" for i in range(200) if i % 20 != 3]
