"""`Idempotency-Key` on the import POSTs (issue 13 item 4): a retried request answers
the first request's result and creates nothing; the key with another request → 409."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from loadbay.catalog.models import Record
from loadbay.db import Database
from loadbay.idempotency_models import IdempotencyKey
from loadbay.ids import utcnow
from loadbay.imports import service
from loadbay.imports.models import ImportJob
from tests.imports.conftest import Uploader, csv_bytes

API = "/api/v3"
ROWS = [["Outlet Code", "Name"], ["K1", "one"], ["K2", "two"]]


def _jobs(db: Database) -> list[str]:
    with db.read() as session:
        return list(session.scalars(sa.select(ImportJob.id)))


def _keyed(auth: dict[str, str], key: str) -> dict[str, str]:
    return {**auth, "Idempotency-Key": key}


@pytest.mark.parametrize("path", ["/api/v3/data/import", "/api/v3/tasks/import"])
def test_a_retry_answers_the_first_result_and_creates_nothing(
    upload: Uploader, auth: dict[str, str], db: Database, path: str
) -> None:
    rows = ROWS if path.endswith("data/import") else [["Order Number"], ["SO-1"], ["SO-2"]]
    first = upload(csv_bytes(rows), path=path, headers=_keyed(auth, "retry-1"))
    assert first.status_code == 200, first.text
    again = upload(csv_bytes(rows), path=path, headers=_keyed(auth, "retry-1"))
    assert again.status_code == 200
    assert again.json() == first.json()  # the first answer exactly, though the job moved on
    assert _jobs(db) == [first.json()["data"]["_id"]]
    plain = upload(csv_bytes(rows), path=path)  # without a key, a new import as always
    assert plain.json()["data"]["_id"] != first.json()["data"]["_id"]


def test_the_same_key_with_another_body_is_409(
    upload: Uploader, auth: dict[str, str], db: Database
) -> None:
    first = upload(csv_bytes(ROWS), headers=_keyed(auth, "k-409"))
    assert first.status_code == 200
    other_file = upload(csv_bytes([*ROWS, ["K3", "three"]]), headers=_keyed(auth, "k-409"))
    assert other_file.status_code == 409
    body = other_file.json()
    assert body["status"] is False and body["failedCode"] == "request-031"
    assert "k-409" in body["message"] and "different request" in body["message"]
    other_form = upload(csv_bytes(ROWS), headers=_keyed(auth, "k-409"), importMode="CreateOnly")
    assert other_form.status_code == 409
    other_path = upload(
        csv_bytes([["Order Number"], ["SO-1"]]),
        path=f"{API}/tasks/import",
        headers=_keyed(auth, "k-409"),
    )
    assert other_path.status_code == 409
    assert len(_jobs(db)) == 1


def test_keys_belong_to_an_organisation_and_expire_after_24_hours(
    upload: Uploader, auth: dict[str, str], token_for: Callable[..., str], db: Database
) -> None:
    first = upload(csv_bytes(ROWS), headers=_keyed(auth, "shared"))
    other = {"Authorization": f"Bearer {token_for('other-org', 'x@other.test')}"}
    elsewhere = upload(csv_bytes(ROWS), headers=_keyed(other, "shared"))
    # another organisation's key is its own: its request is judged on its own (here it
    # names a data type that organisation does not have), never as a reuse
    assert elsewhere.status_code != 409
    assert elsewhere.json().get("failedCode") != "request-031"
    with db.write() as session:
        session.execute(
            sa.update(IdempotencyKey).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    later = upload(csv_bytes(ROWS), headers=_keyed(auth, "shared"))
    assert later.status_code == 200
    assert later.json()["data"]["_id"] != first.json()["data"]["_id"]


def test_a_bad_key_is_refused(upload: Uploader, auth: dict[str, str], db: Database) -> None:
    answer = upload(csv_bytes(ROWS), headers=_keyed(auth, "x" * 256))
    assert answer.status_code == 400 and answer.json()["failedCode"] == "request-003"
    assert _jobs(db) == []


def test_preview_with_a_key_is_answered_once(
    app_client: TestClient, auth: dict[str, str], catalog: dict[str, str], db: Database
) -> None:
    def post() -> Any:
        return app_client.post(
            f"{API}/import-jobs",
            headers=_keyed(auth, "preview-1"),
            data={"dataTypeId": catalog["outlet"], "hubId": catalog["hub"]},
            files={"file": ("outlets.csv", csv_bytes(ROWS))},
        )

    first, again = post(), post()
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert _jobs(db) == [first.json()["data"]["code"]]


def test_two_concurrent_requests_with_one_key_make_one_job(
    app_client: TestClient,
    auth: dict[str, str],
    catalog: dict[str, str],
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Both pass the early check before either has written its job; the key's primary
    key lets one through, and the other answers the first's result."""
    both_checked = threading.Barrier(2, timeout=10)
    store = service.store_upload

    def store_when_both_checked(job: ImportJob, upload: Any, storage: Any = None) -> None:
        both_checked.wait()
        store(job, upload, storage)

    monkeypatch.setattr(service, "store_upload", store_when_both_checked)
    answers: list[Any] = []

    def post() -> None:
        answers.append(
            app_client.post(
                f"{API}/data/import",
                headers=_keyed(auth, "race"),
                data={"dataTypeId": catalog["outlet"], "hubId": catalog["hub"]},
                files={"file": ("outlets.csv", csv_bytes(ROWS))},
            )
        )

    threads = [threading.Thread(target=post) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    assert answers[0].json() == answers[1].json()
    assert _jobs(db) == [answers[0].json()["data"]["_id"]]
    with db.read() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Record)) == 2


def test_expired_keys_are_purged(upload: Uploader, auth: dict[str, str], db: Database) -> None:
    from loadbay.idempotency import purge_expired

    upload(csv_bytes(ROWS), headers=_keyed(auth, "old"))
    assert purge_expired(utcnow()) == 0
    assert purge_expired(utcnow() + timedelta(hours=24, seconds=1)) == 1
