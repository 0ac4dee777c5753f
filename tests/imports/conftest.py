"""Fixtures for import tests: a hub, a data type with every field type, a flow."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from loadbay.catalog.fields import parse_fields
from loadbay.catalog.models import DataType, Flow, Hub
from loadbay.db import Database
from tests.conftest import AppFactory

OUTLET_FIELDS = [
    {"id": "dataId", "title": "Outlet Code", "type": "string", "primaryKey": True},
    {"id": "name", "title": "Name", "type": "string", "required": True},
    {"id": "phone", "title": "Phone", "type": "phone"},
    {"id": "email", "title": "Email", "type": "email"},
    {
        "id": "category",
        "title": "Category",
        "type": "option",
        "optionData": ["Retail", "Wholesale"],
    },
    {"id": "location", "title": "Location", "type": "coordinate"},
    {"id": "openSince", "title": "Open Since", "type": "date"},
    {"id": "lastVisit", "title": "Last Visit", "type": "datetime"},
    {"id": "creditLimit", "title": "Credit Limit", "type": "number"},
    {"id": "visits", "title": "Visits", "type": "integer"},
    {"id": "active", "title": "Active", "type": "boolean"},
]


@pytest.fixture
def org_id(auth: dict[str, str], app_client: TestClient) -> str:
    import jwt

    token = auth["Authorization"].split()[1]
    return str(jwt.decode(token, options={"verify_signature": False})["org"])


@pytest.fixture
def catalog(db: Database, org_id: str) -> dict[str, str]:
    with db.write() as session:
        hub = Hub(organization_id=org_id, name="Jakarta")
        outlet = DataType(
            organization_id=org_id,
            name="Outlet",
            common_data=False,
            fields=[s.as_dict() for s in parse_fields(OUTLET_FIELDS)],
        )
        shared = DataType(
            organization_id=org_id,
            name="Brand",
            common_data=True,
            fields=[
                s.as_dict()
                for s in parse_fields([{"id": "name", "title": "Name", "type": "string"}])
            ],
        )
        flow = Flow(
            organization_id=org_id,
            name="Delivery",
            fields=[
                s.as_dict()
                for s in parse_fields(
                    [
                        {
                            "id": "orderNumber",
                            "title": "Order Number",
                            "type": "string",
                            "required": True,
                        },
                        {"id": "weight", "title": "Weight", "type": "number"},
                    ],
                    primary_key=None,
                )
            ],
        )
        session.add_all([hub, outlet, shared, flow])
        session.flush()
        return {"hub": hub.id, "outlet": outlet.id, "brand": shared.id, "flow": flow.id}


def csv_bytes(rows: list[list[Any]], delimiter: str = ",") -> bytes:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buf.getvalue().encode()


Uploader = Callable[..., Any]


@pytest.fixture
def upload(app_client: TestClient, auth: dict[str, str], catalog: dict[str, str]) -> Uploader:
    """POST a file to /data/import (or /tasks/import) and return the response."""
    return uploader(app_client, auth, catalog)


@pytest.fixture
def upload_for(
    app_for: AppFactory, auth: dict[str, str], catalog: dict[str, str]
) -> Callable[..., Uploader]:
    """`upload_for(**overrides)`: `upload` to an app built for its own settings."""
    return lambda **overrides: uploader(app_for(**overrides), auth, catalog)


def uploader(client: TestClient, auth: dict[str, str], catalog: dict[str, str]) -> Uploader:
    def _upload(
        content: bytes,
        filename: str = "outlets.csv",
        *,
        path: str = "/api/v3/data/import",
        headers: dict[str, str] | None = None,
        **form: str,
    ) -> Any:
        data = dict(form)
        if path.endswith("/data/import"):
            data.setdefault("dataTypeId", catalog["outlet"])
            data.setdefault("hubId", catalog["hub"])
        else:
            data.setdefault("flowId", catalog["flow"])
        return client.post(
            path, headers=headers or auth, data=data, files={"file": (filename, content)}
        )

    return _upload


@pytest.fixture
def monitoring(app_client: TestClient, auth: dict[str, str]) -> Callable[[str], dict[str, Any]]:
    def _get(job_id: str) -> dict[str, Any]:
        response = app_client.get(f"/api/v3/import-monitoring/{job_id}", headers=auth)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()["data"]
        return body

    return _get
