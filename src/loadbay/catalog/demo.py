"""Demo data: an organisation with a hub, an `Outlet` data type, a `Delivery` flow,
outlet records and delivery tasks. Safe to run twice: what exists is kept, not doubled."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from loadbay.catalog import queries
from loadbay.catalog.fields import fields_from_json
from loadbay.catalog.models import TASK_STATUSES, DataType, Flow, Hub, Record, Task
from loadbay.catalog.service import (
    RECORD_RESERVED,
    TASK_RESERVED,
    ensure_organization,
    stored_fields,
    validate_record,
)

DEMO_USER = "demo@loadbay.local"
RECORDS = 50
TASKS = 50

OUTLET_FIELDS: list[dict[str, Any]] = [
    {"id": "dataId", "title": "Data ID", "type": "string", "primaryKey": True},
    {"id": "name", "title": "Name", "type": "string", "required": True},
    {"id": "ownerPhone", "title": "Owner Phone", "type": "phone"},
    {"id": "category", "title": "Category", "type": "option",
     "optionData": ["Retail", "Wholesale", "Horeca"]},
    {"id": "location", "title": "Location", "type": "coordinate"},
    {"id": "openSince", "title": "Open Since", "type": "date"},
    {"id": "creditLimit", "title": "Credit Limit", "type": "number"},
    {"id": "active", "title": "Active", "type": "boolean"},
]  # fmt: skip
DELIVERY_FIELDS: list[dict[str, Any]] = [
    {"id": "orderNumber", "title": "Order Number", "type": "string", "required": True},
    {"id": "weight", "title": "Weight (kg)", "type": "number"},
    {"id": "deliveryDate", "title": "Delivery Date", "type": "date"},
]
_STREETS = ("Sudirman", "Thamrin", "Gatot Subroto", "Kuningan", "Senopati", "Kemang", "Cikini")
_KINDS = ("Toko", "Warung", "Kedai", "Mart", "Grosir")


def seed_demo(session: Session, org_name: str = "demo") -> dict[str, Any]:
    """Create (or find) the demo catalog; returns its ids and how many rows were added."""
    org = ensure_organization(session, org_name)
    hub = queries.find_by_name(session, Hub, org.id, "Jakarta")
    if hub is None:
        hub = Hub(organization_id=org.id, name="Jakarta", extra={"address": "Jakarta Pusat"})
        session.add(hub)
    outlet = queries.find_by_name(session, DataType, org.id, "Outlet")
    if outlet is None:
        fields = stored_fields(
            OUTLET_FIELDS, primary_key="dataId", module="datatype", reserved=RECORD_RESERVED
        )
        outlet = DataType(organization_id=org.id, name="Outlet", common_data=False,
                          description="Outlets visited by the delivery fleet",
                          fields=fields, created_by=DEMO_USER)  # fmt: skip
        session.add(outlet)
    flow = queries.find_by_name(session, Flow, org.id, "Delivery")
    if flow is None:
        fields = stored_fields(
            DELIVERY_FIELDS, primary_key=None, module="flow", reserved=TASK_RESERVED
        )
        flow = Flow(organization_id=org.id, name="Delivery", fields=fields,
                    description="Deliveries to outlets")  # fmt: skip
        session.add(flow)
    session.flush()
    rng = random.Random(20240101)  # the same demo every time
    outlets = [_outlet(rng, n) for n in range(1, RECORDS + 1)]
    added_records = _seed_records(session, org.id, hub, outlet, outlets)
    added_tasks = _seed_tasks(session, org.id, hub, flow, outlets, rng)
    session.flush()
    return {
        "organizationId": org.id,
        "hubId": hub.id,
        "dataTypeId": outlet.id,
        "flowId": flow.id,
        "recordsAdded": added_records,
        "tasksAdded": added_tasks,
    }


def _outlet(rng: random.Random, n: int) -> dict[str, Any]:
    return {
        "dataId": f"OUT-{n:04d}",
        "name": f"{rng.choice(_KINDS)} {rng.choice(_STREETS)} {n}",
        "ownerPhone": f"+62 8{rng.randint(11, 99)} {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}",
        "category": rng.choice(("Retail", "Wholesale", "Horeca")),
        "location": f"{-6.1 - rng.random() * 0.2:.6f},{106.75 + rng.random() * 0.2:.6f}",
        "openSince": f"{rng.randint(2005, 2023)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        "creditLimit": rng.randrange(5, 500) * 100_000,
        "active": rng.random() > 0.15,
    }  # fmt: skip


def _seed_records(
    session: Session, org: str, hub: Hub, outlet: DataType, outlets: list[dict[str, Any]]
) -> int:
    specs = fields_from_json(outlet.fields)
    have = queries.records_by_key(session, org, outlet.id, hub.id, (o["dataId"] for o in outlets))
    added = 0
    for values in outlets:
        if values["dataId"] in have:
            continue
        data, errors = validate_record(specs, values)
        if errors:  # the demo's own values must fit its own type
            raise ValueError(f"demo outlet {values['dataId']}: {errors}")
        session.add(Record(organization_id=org, data_type_id=outlet.id, hub_id=hub.id,
                           scope=hub.id, data_id=values["dataId"], data=data,
                           created_by=DEMO_USER, updated_by=DEMO_USER))  # fmt: skip
        added += 1
    return added


def _seed_tasks(
    session: Session,
    org: str,
    hub: Hub,
    flow: Flow,
    outlets: list[dict[str, Any]],
    rng: random.Random,
) -> int:
    specs = fields_from_json(flow.fields)
    have = {t.data.get("orderNumber") for t in queries.tasks_of_flow(session, org, flow.id)}
    start = datetime(2024, 1, 8, 8, 0)
    added = 0
    for n in range(1, TASKS + 1):
        order = f"DO-{n:05d}"
        day = start + timedelta(days=n // 10, hours=n % 10)
        status = TASK_STATUSES[n % 3]
        driver = f"driver{n % 5 + 1}@demo.test"
        values = {
            "orderNumber": order,
            "weight": round(rng.uniform(0.5, 40), 1),
            "deliveryDate": day.date().isoformat(),
        }
        if order in have:
            continue
        data, errors = validate_record(specs, values)
        if errors:
            raise ValueError(f"demo task {order}: {errors}")
        outlet = outlets[(n - 1) % len(outlets)]
        done = status == "DONE"
        session.add(Task(organization_id=org, flow_id=flow.id, hub_id=hub.id,
                         title=f"Deliver to {outlet['name']}", status=status,
                         assignee=None if status == "UNASSIGNED" else driver,
                         start_time=day, end_time=day + timedelta(hours=2),
                         done_by=driver if done else None,
                         done_time=day + timedelta(minutes=90) if done else None,
                         data=data, created_by=DEMO_USER))  # fmt: skip
        added += 1
    return added
