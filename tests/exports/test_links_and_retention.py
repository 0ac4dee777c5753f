"""Download links of exports (signed, expiring, one organisation's) and retention."""

from __future__ import annotations

import time
import types
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
import sqlalchemy as sa

import loadbay.storage
from loadbay.db import Database
from loadbay.exports.models import ExportLog
from loadbay.exports.tasks import fail_stale_exports, purge_exports
from loadbay.ids import utcnow
from loadbay.storage import get_storage
from loadbay.worker.tasks import purge_exports_task
from tests.exports.conftest import Exporter, Seeded


def _with(url: str, **changes: str) -> str:
    parts = urlparse(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changes
    return parts._replace(query=urlencode(query)).geturl()


def _status(exporter: Exporter, url: str) -> tuple[int, str]:
    answer = exporter.client.get(url)
    code = answer.json().get("failedCode", "") if answer.status_code != 200 else ""
    return answer.status_code, code


def test_link_downloads_with_a_proper_name(seeded: Seeded, exporter: Exporter) -> None:
    link = exporter.ok("data", download="xlsx")["data"]["link"]
    answer = exporter.client.get(link)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    filename = urlparse(link).path.rsplit("/", 1)[-1]
    assert filename.startswith(f"data_{seeded.org}_") and filename.endswith(".xlsx")
    assert f'filename="{filename}"' in answer.headers["content-disposition"]


def test_tampered_links_are_refused(seeded: Seeded, exporter: Exporter) -> None:
    link = exporter.ok("data", download="csv")["data"]["link"]
    sig = parse_qs(urlparse(link).query)["sig"][0]
    forged = ("0" if sig[0] != "0" else "1") + sig[1:]
    assert _status(exporter, _with(link, sig=forged)) == (403, "file-035")
    later = str(int(time.time()) + 10 * 365 * 86400)
    assert _status(exporter, _with(link, exp=later)) == (403, "file-035")
    assert _status(exporter, _with(link, name="other.csv")) == (403, "file-035")
    other_file = link.replace(".csv?", ".xlsx?").replace("name=", "nm=")
    assert _status(exporter, other_file)[0] == 403


def test_expired_link_is_gone(
    seeded: Seeded, exporter: Exporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    link = exporter.ok("data", download="csv")["data"]["link"]
    future = time.time() + 8 * 86400  # past the 7-day link lifetime
    monkeypatch.setattr(loadbay.storage, "time", types.SimpleNamespace(time=lambda: future))
    assert _status(exporter, link) == (410, "file-032")


def test_another_organisations_link_never_works(
    seeded: Seeded, exporter: Exporter, token_for: Any
) -> None:
    link = exporter.ok("data", download="csv")["data"]["link"]
    other_org = urlparse(link).path.split("/")[4]
    assert other_org == seeded.org
    theirs = {"Authorization": f"Bearer {token_for('globex', 'ops@acme.test')}"}
    their_org = exporter.client.post(
        "/api/v3/data/export", params={"download": "csv"}, headers=theirs
    ).json()["data"]["organizationId"]
    moved = link.replace(f"/files/{seeded.org}/", f"/files/{their_org}/", 1)
    moved = moved.replace(f"/{seeded.org}/exports", f"/{their_org}/exports")
    assert _status(exporter, moved) == (403, "file-035")
    # their export log (same e-mail, other organisation) does not show ours
    log = exporter.client.get("/api/v3/tasks/export-log", headers=theirs).json()
    assert [e["_source"]["organizationId"] for e in log["data"]] == [their_org]


def _file_keys(db: Database) -> dict[str, str]:
    with db.read() as session:
        rows = session.execute(sa.select(ExportLog.id, ExportLog.file_key)).all()
    return {row.id: row.file_key for row in rows}


def test_retention_purges_files_and_entries(
    seeded: Seeded, exporter: Exporter, db: Database
) -> None:
    old = exporter.ok("data", download="csv")["data"]["link"]
    with db.write() as session:
        session.execute(sa.update(ExportLog).values(request_at=utcnow() - timedelta(days=20)))
    exporter.ok("data", download="json")
    keys = _file_keys(db)
    storage = get_storage()
    assert len(keys) == 2 and all(storage.exists(k) for k in keys.values())

    assert purge_exports(utcnow()) == 0  # nothing is 30 days old yet
    moved = utcnow() + timedelta(days=11)  # the first export is now 31 days old
    assert purge_exports(moved) == 1
    left = _file_keys(db)
    assert len(left) == 1
    gone = next(k for i, k in keys.items() if i not in left)
    assert not storage.exists(gone) and storage.exists(next(iter(left.values())))
    assert exporter.client.get(old).status_code == 404  # the link outlives its file: not found
    assert purge_exports(utcnow() + timedelta(days=31)) == 1
    assert _file_keys(db) == {}
    purge_exports_task.call_local()  # the periodic task runs the same, on an empty log


def test_stale_processing_entries_fail(seeded: Seeded, db: Database) -> None:
    with db.write() as session:
        for hours in (1, 7):
            session.add(
                ExportLog(
                    organization_id=seeded.org, report_type="task", data_name="x",
                    file_type="xlsx", status="Processing", params={}, email="ops@acme.test",
                    request_at=utcnow() - timedelta(hours=hours),
                )
            )  # fmt: skip
    assert fail_stale_exports(utcnow()) == 1
    with db.read() as session:
        states = sorted(session.scalars(sa.select(ExportLog.status)))
    assert states == ["Failed", "Processing"]
