"""Keyset streaming: every row exactly once, in order, across many small batches, each
batch in its own short read transaction; and the export off the event loop."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event

from loadbay.catalog.fields import parse_fields
from loadbay.catalog.models import DataType, Hub, Record
from loadbay.db import Database
from loadbay.exports import queries, writing
from tests.conftest import AppFactory
from tests.exports.conftest import BASE_TIME, Exporter, org_of, read_zip

N = 57
FIELDS = [
    {"id": "dataId", "title": "Code", "type": "string", "primaryKey": True},
    {"id": "score", "title": "Score", "type": "number"},
    {"id": "label", "title": "Label", "type": "string"},
]


@pytest.fixture
def local_exporter(app_for: AppFactory, auth: dict[str, str]) -> Exporter:
    """An app that writes direct exports in this process (the writer's spies see them),
    not in its worker process."""
    return Exporter(app_for(direct_export_in_worker_process=False), auth)


@pytest.fixture
def many(db: Database, auth: dict[str, str], app_client: Any) -> list[dict[str, Any]]:
    """N records with tied creation times, tied and missing scores, two hubs."""
    org = org_of(auth)
    out = []
    with db.write() as session:
        hubs = [Hub(organization_id=org, name=n) for n in ("North", "South")]
        kind = DataType(
            organization_id=org, name="Thing", fields=[s.as_dict() for s in parse_fields(FIELDS)]
        )
        session.add_all([*hubs, kind])
        session.flush()
        for i in range(N):
            data: dict[str, Any] = {"dataId": f"T{i:03d}", "label": f"L{(i * 7) % 11}"}
            if i % 4:
                data["score"] = (i % 5) * 1.5 - 2
            hub = hubs[i % 2]
            record = Record(
                organization_id=org, data_type_id=kind.id, hub_id=hub.id, scope=hub.id,
                data_id=data["dataId"], data=data,
                created_time=BASE_TIME + timedelta(minutes=i // 10),
            )  # fmt: skip
            session.add(record)
            session.flush()
            out.append({"_id": record.id, **data, "hub": hub.name, "t": record.created_time})
    return out


def _expected(rows: list[dict[str, Any]], key: str, desc: bool) -> list[str]:
    present = [r for r in rows if r.get(key) is not None]
    missing = [r for r in rows if r.get(key) is None]
    ordered = sorted(present, key=lambda r: (r[key], r["_id"]), reverse=desc)
    return [r["_id"] for r in ordered] + [
        r["_id"] for r in sorted(missing, key=lambda r: r["_id"], reverse=desc)
    ]


@pytest.mark.parametrize(
    ("sort_by", "key", "order"),
    [
        ("createdTime", "t", "desc"),
        ("createdTime", "t", "asc"),
        ("score", "score", "asc"),
        ("score", "score", "desc"),
        ("label", "label", "desc"),
        ("hub", "hub", "asc"),
        ("dataId", "dataId", "desc"),
    ],
)
@pytest.mark.parametrize(("page", "limit"), [(None, None), (2, 13), (5, 13), (1, 7)])
def test_every_row_once_in_order(
    many: list[dict[str, Any]],
    exporter: Exporter,
    monkeypatch: pytest.MonkeyPatch,
    sort_by: str,
    key: str,
    order: str,
    page: int | None,
    limit: int | None,
) -> None:
    monkeypatch.setattr(queries, "BATCH_ROWS", 5)
    params: dict[str, Any] = {"download": "json", "sortBy": sort_by, "sortOrder": order}
    if limit is not None:
        params.update(page=page, limit=limit)
    body = exporter.ok("data", **params)
    _, records = read_zip(exporter.download(body["data"]["link"]))
    expected = _expected(many, key, order == "desc")
    if limit is not None and page is not None:
        expected = expected[(page - 1) * limit : page * limit]
    assert [r["_id"] for r in records] == expected
    assert body["total_data_be"] == len(expected)


def _offset(statement: str, parameters: Any) -> bool:
    """Whether the statement skips rows by OFFSET (SQLite always renders `OFFSET ?`)."""
    if "OFFSET" not in statement.upper():
        return False
    return not isinstance(parameters, (tuple, list)) or parameters[-1] != 0


@contextmanager
def _statements(db: Database) -> Iterator[list[tuple[str, bool]]]:
    seen: list[tuple[str, bool]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "records" in statement:
            seen.append((statement, _offset(statement, parameters)))

    event.listen(db.read_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.read_engine, "before_cursor_execute", record)


def test_batches_are_keyset_reads_in_short_transactions(
    many: list[dict[str, Any]],
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
    local_exporter: Exporter,
) -> None:
    monkeypatch.setattr(queries, "BATCH_ROWS", 10)
    reads = 0
    real_read = db.read

    @contextmanager
    def counting_read() -> Iterator[Any]:
        nonlocal reads
        reads += 1
        with real_read() as session:
            yield session

    monkeypatch.setattr(db, "read", counting_read)
    with _statements(db) as seen:
        local_exporter.ok("data", download="csv", sortBy="score")
    batches = [(s, skips) for s, skips in seen if "LIMIT" in s.upper()]
    assert len(batches) == 6  # 57 rows in batches of 10
    assert not any(skips for _, skips in batches)
    assert reads >= 6 + 1  # one transaction per batch, plus the count

    with _statements(db) as seen:
        local_exporter.ok("data", download="csv", page=3, limit=12)
    offsets = [s for s, skips in seen if skips]
    assert len(offsets) == 1  # the window's start, found once


def test_direct_export_runs_off_the_event_loop(
    many: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    local_exporter: Exporter,
) -> None:
    real = writing.write_export
    loops: list[bool] = []

    def spy(*args: Any, **kwargs: Any) -> Any:
        try:
            asyncio.get_running_loop()
            loops.append(True)
        except RuntimeError:
            loops.append(False)
        return real(*args, **kwargs)

    monkeypatch.setattr(writing, "write_export", spy)
    local_exporter.ok("data", download="xlsx")
    assert loops == [False]


@pytest.mark.parametrize("download", ["xlsx", "csv", "json"])
def test_a_direct_export_leaves_the_collector_on(
    many: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    download: str,
    local_exporter: Exporter,
) -> None:
    """A direct export runs on a request thread: switching the collector off there would
    switch it off for every request of the API process while the file is written."""
    monkeypatch.setattr(queries, "BATCH_ROWS", 10)
    real = writing.write_export
    collector_on: list[bool] = []

    def spy(*args: Any, progress: Any = None, **kwargs: Any) -> Any:
        def watched(n: int) -> None:
            collector_on.append(gc.isenabled())
            if progress is not None:
                progress(n)

        return real(*args, progress=watched, **kwargs)

    monkeypatch.setattr(writing, "write_export", spy)
    local_exporter.ok("data", download=download)
    assert len(collector_on) == 6 and all(collector_on)
