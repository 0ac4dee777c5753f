"""Storing an upload happens outside SQLite's write turn."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from loadbay.catalog.models import Hub
from loadbay.db import Database
from loadbay.storage import LocalStorage, get_storage
from tests.imports.conftest import csv_bytes


class SlowStore(LocalStorage):
    """Local storage whose uploads take as long as the test says (a slow S3, say)."""

    def __init__(self, root: Path) -> None:
        super().__init__(root, signing_key=b"k" * 32)
        self.storing = threading.Event()
        self.release = threading.Event()

    def save_file(self, key: str, path: Path) -> None:
        self.storing.set()
        self.release.wait(10)
        super().save_file(key, path)


@pytest.fixture
def slow_store(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlowStore]:
    real = get_storage()
    assert isinstance(real, LocalStorage)
    store = SlowStore(real.root)
    # The upload routes keep the file in the app's storage.
    monkeypatch.setattr("loadbay.imports.routes.app_storage", lambda _request: store)
    yield store
    store.release.set()


def test_a_slow_upload_store_does_not_block_other_writers(
    upload: Any, db: Database, org_id: str, slow_store: SlowStore
) -> None:
    if not db.is_sqlite:
        pytest.skip("the writer turn is SQLite's")
    answers: list[Any] = []
    uploading = threading.Thread(
        target=lambda: answers.append(upload(csv_bytes([["Outlet Code", "Name"], ["L1", "a"]])))
    )
    uploading.start()
    assert slow_store.storing.wait(10)
    written = threading.Event()

    def other_writer() -> None:
        with db.write() as session:
            session.add(Hub(organization_id=org_id, name="Elsewhere"))
        written.set()

    threading.Thread(target=other_writer, daemon=True).start()
    blocked = not written.wait(3)
    slow_store.release.set()
    uploading.join(20)
    assert not blocked, "a writer waited for an upload being stored"
    assert answers and answers[0].status_code == 200, answers
