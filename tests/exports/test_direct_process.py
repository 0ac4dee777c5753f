"""A direct export is written in a worker process while its request awaits it: polls
beside a big one stay fast, and the file is the whole export."""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from collections.abc import Callable
from datetime import timedelta

import httpx
import sqlalchemy as sa
from fastapi import FastAPI

from loadbay.catalog.fields import parse_fields
from loadbay.catalog.models import DataType, Hub, Record
from loadbay.db import Database, table_of
from loadbay.settings import get_settings
from tests.exports.conftest import BASE_TIME, OUTLET_FIELDS, read_csv
from tests.test_load import Served, _get

ROWS = 60_000


def _seed(db: Database, org: str) -> str:
    with db.write() as session:
        hub = Hub(organization_id=org, name="Jakarta")
        kind = DataType(
            organization_id=org,
            name="Outlet",
            fields=[s.as_dict() for s in parse_fields(OUTLET_FIELDS)],
        )
        session.add_all([hub, kind])
        session.flush()
        hub_id, type_id = hub.id, kind.id
    records = table_of(Record)
    for start in range(0, ROWS, 10_000):
        with db.write() as session:
            session.execute(
                sa.insert(records),
                [
                    {"id": f"r{i:023d}", "organization_id": org, "data_type_id": type_id,
                     "hub_id": hub_id, "scope": "", "data_id": f"{i:06d}",
                     "data": {"dataId": f"{i:06d}", "name": f"Toko {i}", "visits": i},
                     "created_time": BASE_TIME + timedelta(seconds=i),
                     "updated_time": BASE_TIME + timedelta(seconds=i)}
                    for i in range(start, min(ROWS, start + 10_000))
                ],
            )  # fmt: skip
    return type_id


def test_polls_stay_fast_while_a_big_direct_export_runs(
    db: Database, token_for: Callable[..., str], make_app: Callable[..., FastAPI]
) -> None:
    assert get_settings().direct_export_max_rows == 1_000_000  # the vendor's limit
    token = token_for()
    import jwt

    org = str(jwt.decode(token, options={"verify_signature": False})["org"])
    type_id = _seed(db, org)
    # One worker process: the poller's core stays free.
    served = Served(make_app(export_processes=1))
    auth = {"Authorization": f"Bearer {token}"}
    base = f"http://127.0.0.1:{served.port}"
    result: dict[str, httpx.Response] = {}

    def export() -> None:
        result["answer"] = httpx.post(
            f"{base}/api/v3/data/export",
            params={"download": "csv", "dataTypeId": type_id},
            headers=auth,
            timeout=120,
        )

    try:
        exporting = threading.Thread(target=export)
        started = time.perf_counter()
        exporting.start()
        polls: list[float] = []

        async def poll() -> None:
            while exporting.is_alive():
                answer = await _get(served.port, "/api/v3/import-monitoring?limit=20", auth)
                assert not isinstance(answer, Exception) and answer[0] == 200, answer
                polls.append(answer[3])
                await asyncio.sleep(0.05)

        asyncio.run(poll())
        exporting.join()
        took = time.perf_counter() - started
        answer = result["answer"]
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["data"]["status"] == "Done" and body["total_data_be"] == ROWS
        assert len(polls) >= 5, f"the export took {took:.2f} s: too short to poll beside"
        polls.sort()
        slow = [round(p, 3) for p in polls if p >= 0.2]
        assert statistics.median(polls) < 0.2 and len(slow) <= len(polls) // 10, slow
        link = httpx.URL(body["data"]["link"])  # signed for the public URL: fetched here
        content = httpx.get(f"{base}{link.raw_path.decode()}", timeout=60).content
    finally:
        served.stop()
    rows = read_csv(content)
    codes = [r[rows[0].index("Outlet Code")] for r in rows[1:]]
    assert sorted(codes) == [f"{i:06d}" for i in range(ROWS)]
