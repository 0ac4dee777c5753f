"""Storage fixtures: settings pointed at a fresh folder, and an S3 endpoint on loopback.

`moto_s3` runs moto's standalone server in a thread on 127.0.0.1 with a free port,
so the S3 adapter is exercised over real HTTP (signing, multipart, presigned URLs)
without any network service. Objects live in RAM: fine for tests, never for benchmarks.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest
from botocore.config import Config
from moto.server import ThreadedMotoServer

from loadbay.settings import Settings, get_settings
from loadbay.storage import S3Storage, reset_storage

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True)
class MotoS3:
    endpoint_url: str
    region: str
    access_key_id: str
    secret_access_key: str
    bucket: str
    client: S3Client

    def storage(self, prefix: str | None = None, **kwargs: int) -> S3Storage:
        """An adapter on the shared bucket under its own prefix, so tests never collide."""
        return S3Storage(
            self.bucket,
            prefix if prefix is not None else f"t-{secrets.token_hex(6)}",
            endpoint_url=self.endpoint_url,
            region=self.region,
            access_key_id=self.access_key_id,
            secret_access_key=self.secret_access_key,
            **kwargs,
        )

    def settings(self) -> dict[str, str]:
        """Settings that point an app (or `get_settings()`) at this endpoint, under a
        fresh prefix."""
        return {
            "storage_url": f"s3://{self.bucket}/t-{secrets.token_hex(6)}",
            "s3_endpoint_url": self.endpoint_url,
            "s3_region": self.region,
            "s3_access_key_id": self.access_key_id,
            "s3_secret_access_key": self.secret_access_key,
        }

    def settings_env(self) -> dict[str, str]:
        """The same as LOADBAY_* variables."""
        return {f"LOADBAY_{name.upper()}": value for name, value in self.settings().items()}


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[MotoS3]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(s3={"addressing_style": "path"}),
    )
    client.create_bucket(Bucket="loadbay-test")
    # werkzeug logs every request at INFO, which buries a failing test's own log lines.
    werkzeug = logging.getLogger("werkzeug")
    level = werkzeug.level
    werkzeug.setLevel(logging.WARNING)
    yield MotoS3(endpoint, "us-east-1", "testing", "testing", "loadbay-test", client)
    werkzeug.setLevel(level)
    client.close()
    server.stop()


def _fresh_settings(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> Iterator[Settings]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    reset_storage()
    yield get_settings()
    get_settings.cache_clear()
    reset_storage()


@pytest.fixture
def local_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """`get_settings()` and `get_storage()` answer with local storage in a fresh data folder."""
    yield from _fresh_settings(
        monkeypatch,
        {
            "LOADBAY_DATA_DIR": str(tmp_path),
            # Set, not deleted: an empty value also overrides whatever a `.env` file says.
            "LOADBAY_STORAGE_URL": "",
            "LOADBAY_PUBLIC_URL": "http://files.test",
        },
    )


@pytest.fixture
def s3_settings(
    moto_s3: MotoS3, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """`get_settings()` and `get_storage()` answer with S3 on moto, under a fresh prefix."""
    env = {"LOADBAY_DATA_DIR": str(tmp_path), "LOADBAY_PUBLIC_URL": "http://files.test"}
    yield from _fresh_settings(monkeypatch, env | moto_s3.settings_env())
