"""The console of an app works on what that app was built with, whichever app of the
process was built last (its settings are then the process's current ones)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from loadbay.catalog.fields import parse_fields
from loadbay.catalog.models import DataType, Hub
from loadbay.catalog.service import ensure_organization
from loadbay.console.session import issue_link
from loadbay.db import Database, set_database
from loadbay.imports.models import ImportJob
from loadbay.migrations import migrate
from loadbay.queue import configure
from loadbay.settings import Settings, get_settings
from loadbay.storage import get_storage
from tests.console.wizard_data import STORE_FIELDS


@dataclass
class Built:
    app: FastAPI
    settings: Settings
    db: Database


def _build(data_dir: Path, secret: str, **overrides: object) -> Built:
    """An app on a data folder of its own (its database, files and secret), built as
    `loadbay serve` builds one."""
    from loadbay.api import create_app

    settings = Settings(data_dir=data_dir, jwt_secret=secret * 48, **overrides)
    db = Database(settings.effective_database_url)
    migrate(db)
    return Built(create_app(settings, database=db, run_migrations=False), settings, db)


@pytest.fixture
def two_apps(tmp_path: Path, sqlite_db: Database) -> Iterator[tuple[Built, Built]]:
    """A, then B (whose 1,000-byte upload limit A does not share): B's settings,
    database and storage are the process's current ones once both are built."""
    a = _build(tmp_path / "a", "a")
    b = _build(tmp_path / "b", "b", max_upload_bytes=1000)
    yield a, b
    set_database(sqlite_db)  # disposes B's
    a.db.dispose()
    get_settings.cache_clear()
    configure(get_settings())


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def test_an_apps_console_reads_and_writes_its_own_data_after_another_app_is_built(
    two_apps: tuple[Built, Built],
) -> None:
    a, b = two_apps
    assert get_settings() is b.settings  # what the console must not reach for
    with a.db.write() as session:
        org = ensure_organization(session, "acme").id
        hub = Hub(organization_id=org, name="Jakarta")
        kind = DataType(
            organization_id=org,
            name="Store",
            common_data=False,
            fields=[s.as_dict() for s in parse_fields(STORE_FIELDS)],
        )
        session.add_all([hub, kind])
        session.flush()
        target, hub_id = f"datasource:{kind.id}", hub.id
    link = issue_link(org, "ana@acme.test", ["import"], a.settings.secret)
    content = b"Outlet Code,Outlet Name\r\n" + b"".join(
        b"S-%03d,Toko number %03d\r\n" % (i, i) for i in range(100)
    )
    assert len(content) > 1000  # over B's limit, under A's

    with TestClient(a.app) as client:
        # A link made for A signs in to A (B's secret would refuse it), in A's database.
        signed = client.get(link, follow_redirects=False)
        assert signed.status_code == 303, signed.text
        page = client.get("/imports/new/upload", params={"target": target})
        assert page.status_code == 200, page.text  # A's data type, from A's database
        form = {"csrf": _csrf(page.text), "target": target, "hubId": hub_id}
        sent = client.post(
            "/imports/new/upload",
            data=form,
            files={"file": ("outlets.csv", content)},
            follow_redirects=False,
        )
        assert sent.status_code == 303, sent.text  # received with A's upload limit
        code = sent.headers["location"].split("/")[2]
        assert sent.headers["location"] == f"/imports/{code}/header"
        with a.db.read() as session:
            job = session.get(ImportJob, code)
            assert job is not None and job.filename == "outlets.csv"
            key = job.file_key
        with b.db.read() as session:
            assert session.get(ImportJob, code) is None
        assert get_storage(a.settings).exists(key)  # the upload is in A's files
        assert not get_storage(b.settings).exists(key)
        # The draft's pages read its file back from A's storage; A's history lists it once
        # it is imported.
        header = client.get(f"/imports/{code}/header")
        assert header.status_code == 200, header.text
        assert "Toko number 000" in header.text
        with a.db.write() as session:  # as if imported: the history shows confirmed jobs
            session.execute(
                sa.update(ImportJob)
                .where(ImportJob.id == code)
                .values(confirmed=True, phase="done", status="success")
            )
        history = client.get("/imports")
        assert history.status_code == 200 and f'href="/imports/{code}"' in history.text
        assert client.get(f"/imports/{code}").status_code == 200

    with TestClient(b.app) as client:  # and B's console keeps to B's secret
        refused = client.get(issue_link(org, "ana@acme.test", ["import"], a.settings.secret))
        assert refused.status_code == 400 and "not valid" in refused.text


def test_an_apps_api_upload_lands_in_its_own_storage_after_another_app_is_built(
    two_apps: tuple[Built, Built],
) -> None:
    """`POST /data/import` kept the file in the process's storage (B's, once B was
    built) while its plan step and the draft's pages read it from the app's."""
    import time

    import jwt

    a, b = two_apps
    with a.db.write() as session:
        org = ensure_organization(session, "acme").id
        kind = DataType(
            organization_id=org,
            name="Store",
            common_data=True,
            fields=[s.as_dict() for s in parse_fields(STORE_FIELDS)],
        )
        session.add(kind)
        session.flush()
        type_id = kind.id
    now = int(time.time())
    claims = {"sub": "ana@acme.test", "org": org, "perms": ["import"], "iat": now, "exp": now + 600}
    token = jwt.encode(claims, a.settings.secret, algorithm="HS256")
    content = b"Outlet Code,Outlet Name\r\nS-001,Toko Satu\r\n"
    with TestClient(a.app) as client:
        sent = client.post(
            "/api/v3/data/import",
            headers={"Authorization": f"Bearer {token}"},
            data={"dataTypeId": type_id},
            files={"file": ("outlets.csv", content, "text/csv")},
        )
    assert sent.status_code == 200, sent.text
    with a.db.read() as session:
        job = session.get(ImportJob, sent.json()["data"]["_id"])
        assert job is not None
        key = job.file_key
    assert get_storage(a.settings).exists(key)
    assert not get_storage(b.settings).exists(key)
