"""Export fixtures: a seeded organisation (hubs, a data type, flows, records, tasks),
helpers that call the export endpoints, download the file and read it back with a real
reader (python-calamine, the csv module, zipfile + orjson)."""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from python_calamine import CalamineWorkbook

from loadbay.catalog.fields import parse_fields
from loadbay.catalog.models import DataType, Flow, Hub, Record, Task
from loadbay.db import Database
from loadbay.exports.models import ExportLog

API = "/api/v3"
BASE_TIME = datetime(2024, 5, 1, 8, 0, 0)

OUTLET_FIELDS = [
    {"id": "dataId", "title": "Outlet Code", "type": "string", "primaryKey": True},
    {"id": "name", "title": "Name", "type": "string", "required": True},
    {"id": "phone", "title": "Phone", "type": "phone"},
    {"id": "category", "title": "Category", "type": "option", "optionData": ["Retail", "Bulk"]},
    {"id": "openSince", "title": "Open Since", "type": "date"},
    {"id": "lastVisit", "title": "Last Visit", "type": "datetime"},
    {"id": "creditLimit", "title": "Credit Limit", "type": "number"},
    {"id": "visits", "title": "Visits", "type": "integer"},
    {"id": "active", "title": "Active", "type": "boolean"},
]
# (dataId, name, phone, category, openSince, lastVisit, creditLimit, visits, active)
OUTLETS: list[tuple[Any, ...]] = [
    ("007", "=1+2", "0812345", "Retail", "2020-01-31", "2024-04-30T10:15:00", 1500.5, 3, True),
    ("0010", "+62 shop", "+62812", "Bulk", "1999-12-31", "2024-04-30T10:15:00+07:00", -5, 0, False),
    ("A-3", "-minus", None, "Retail", None, None, None, None, None),
    ("A-4", "@SUM(A1)", "021", "Bulk", "2024-02-29", "2024-01-01T00:00:00", 0.1, 12, True),
    ("A-5", 'Toko Ümlaut, "quoted"', "022", "Retail", "2024-03-01", None, 10, 7, False),
]
DATA_HEADERS = [
    "ID", "Outlet Code", "Hub ID", "Hub", "Created Time", "Updated Time",
    "Name", "Phone", "Category", "Open Since", "Last Visit", "Credit Limit", "Visits", "Active",
]  # fmt: skip
DELIVERY_FIELDS = [
    {"id": "orderNumber", "title": "Order Number", "type": "string", "required": True},
    {"id": "weight", "title": "Weight", "type": "number"},
]
PICKUP_FIELDS = [
    {"id": "orderNumber", "title": "Pickup Order", "type": "string"},
    {"id": "boxes", "title": "Boxes", "type": "integer"},
]


@dataclass
class Seeded:
    org: str
    hub: str
    hub2: str
    outlet: str
    flow: str
    pickup: str
    records: list[str]  # ids, oldest first
    tasks: list[str]  # ids, oldest first


def org_of(auth: dict[str, str]) -> str:
    import jwt

    token = auth["Authorization"].split()[1]
    return str(jwt.decode(token, options={"verify_signature": False})["org"])


@pytest.fixture
def seeded(db: Database, auth: dict[str, str], app_client: TestClient) -> Seeded:
    org = org_of(auth)
    with db.write() as session:
        hub = Hub(organization_id=org, name="Jakarta")
        hub2 = Hub(organization_id=org, name="Bandung")
        outlet = DataType(
            organization_id=org,
            name="Outlet",
            fields=[s.as_dict() for s in parse_fields(OUTLET_FIELDS)],
        )
        flow = Flow(
            organization_id=org,
            name="Delivery",
            fields=[s.as_dict() for s in parse_fields(DELIVERY_FIELDS, primary_key=None)],
            created_time=BASE_TIME,
        )
        pickup = Flow(
            organization_id=org,
            name="Pickup",
            fields=[s.as_dict() for s in parse_fields(PICKUP_FIELDS, primary_key=None)],
            created_time=BASE_TIME + timedelta(seconds=1),
        )
        session.add_all([hub, hub2, outlet, flow, pickup])
        session.flush()
        records = []
        for i, values in enumerate(OUTLETS):
            data = {f["id"]: v for f, v in zip(OUTLET_FIELDS, values, strict=True) if v is not None}
            record = Record(
                organization_id=org,
                data_type_id=outlet.id,
                hub_id=hub.id if i != 4 else hub2.id,
                scope=hub.id if i != 4 else hub2.id,
                data_id=values[0],
                data=data,
                created_time=BASE_TIME + timedelta(minutes=i),
                updated_time=BASE_TIME + timedelta(minutes=i, seconds=30),
            )
            session.add(record)
            records.append(record)
        tasks = []
        specs = [
            (flow, "DONE", "a@acme.test", "Leandro", {"orderNumber": "SO-001", "weight": 2.5}),
            (flow, "ONGOING", "b@acme.test", None, {"orderNumber": "=cmd", "weight": 10}),
            (flow, "UNASSIGNED", None, None, {"orderNumber": "00042"}),
            (pickup, "DONE", "A@acme.test", "leandro", {"orderNumber": "P-1", "boxes": 4}),
        ]
        for i, (f, status, assignee, done_by, data) in enumerate(specs):
            task = Task(
                organization_id=org,
                flow_id=f.id,
                hub_id=hub.id if i != 3 else None,
                title=f"Task {i}",
                status=status,
                assignee=assignee,
                start_time=BASE_TIME + timedelta(hours=i),
                end_time=None,
                done_by=done_by,
                done_time=BASE_TIME + timedelta(hours=i, minutes=5) if status == "DONE" else None,
                data=data,
                created_by="ops@acme.test",
                created_time=BASE_TIME + timedelta(minutes=i),
                updated_time=BASE_TIME + timedelta(minutes=i),
            )
            session.add(task)
            tasks.append(task)
        session.flush()
        return Seeded(
            org, hub.id, hub2.id, outlet.id, flow.id, pickup.id,
            [r.id for r in records], [t.id for t in tasks],
        )  # fmt: skip


class Exporter:
    def __init__(self, client: TestClient, auth: dict[str, str]) -> None:
        self.client = client
        self.auth = auth

    def data(self, headers: dict[str, str] | None = None, **params: Any) -> Any:
        query = {k: _param(v) for k, v in params.items()}
        return self.client.post(f"{API}/data/export", params=query, headers=headers or self.auth)

    def tasks(self, headers: dict[str, str] | None = None, **body: Any) -> Any:
        return self.client.post(f"{API}/tasks/export", json=body, headers=headers or self.auth)

    def ok(self, kind: str, **params: Any) -> dict[str, Any]:
        answer = self.data(**params) if kind == "data" else self.tasks(**params)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    def download(self, link: str) -> bytes:
        answer = self.client.get(link)
        assert answer.status_code == 200, answer.text
        return bytes(answer.content)


def _param(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


@pytest.fixture
def exporter(app_client: TestClient, auth: dict[str, str]) -> Exporter:
    return Exporter(app_client, auth)


def read_xlsx(content: bytes) -> list[list[Any]]:
    book = CalamineWorkbook.from_filelike(io.BytesIO(content))
    rows: list[list[Any]] = book.get_sheet_by_index(0).to_python(skip_empty_area=False)
    return rows


def read_csv(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf"), "CSV must start with a UTF-8 BOM"
    return list(csv.reader(io.StringIO(content[3:].decode("utf-8"), newline="")))


def read_zip(content: bytes) -> tuple[list[str], list[dict[str, Any]]]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        names = archive.namelist()
        records: list[dict[str, Any]] = []
        for name in names:
            part = orjson.loads(archive.read(name))
            assert isinstance(part, list)
            records += part
    return names, records


def log_entry(db: Database, log_id: str) -> ExportLog:
    """One export-log entry as stored now, detached from its session."""
    with db.read() as session:
        entry = session.get(ExportLog, log_id)
        assert entry is not None
        session.expunge(entry)
        return entry
