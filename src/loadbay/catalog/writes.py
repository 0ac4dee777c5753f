"""Writes of data-source records and tasks: resolved within the organisation, validated
against their type's fields, and (bulk) upserted by key."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from loadbay.auth import Principal
from loadbay.catalog import queries
from loadbay.catalog.fields import FieldSpec, Invalid, fields_from_json, is_blank, make_date_parsers
from loadbay.catalog.models import TASK_STATUSES, DataType, Flow, Hub, Record, Task
from loadbay.catalog.schemas import require_object
from loadbay.catalog.service import (
    TASK_COLUMNS,
    flush_unique,
    invalid,
    key_text,
    reasons,
    validate_record,
)
from loadbay.errors import ApiError, BadRequest, Conflict, NotFound
from loadbay.ids import new_id, utcnow

BULK_LIMIT = 2000  # the vendor's documented maximum per bulk upsert
CREATED = "Data has been created successfully."
UPDATED = "Data has been updated successfully."
_RECORD_META = frozenset({"dataTypeId", "hubId", "limitUser"})  # limitUser: accepted, unused
_MAX_KEY = 255  # records.data_id
_MAX_EMAIL = 320


# ---- records -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordTarget:
    data_type: DataType
    specs: list[FieldSpec]
    primary_key: str
    hub_id: str | None
    scope: str  # the hub id, or "" when the type's commonData is true


def record_target(session: Session, org: str, data_type_id: Any, hub_id: Any) -> RecordTarget:
    if is_blank(data_type_id):
        raise BadRequest("data-001", "dataTypeId is required")
    data_type = queries.get_owned(session, DataType, org, data_type_id)
    if data_type is None:
        raise NotFound("datatype-033", "Data type not found")
    hub: Hub | None = None
    if not is_blank(hub_id):
        hub = queries.get_owned(session, Hub, org, hub_id)
        if hub is None:
            raise NotFound("hub-033", "Hub not found")
    elif not data_type.common_data:
        raise BadRequest("data-001", "hubId is required (the data type's commonData is false)")
    specs = fields_from_json(data_type.fields)
    key = next((s.id for s in specs if s.primary_key), "dataId")
    hub_key = hub.id if hub is not None else None
    scope = "" if data_type.common_data else (hub_key or "")
    return RecordTarget(data_type, specs, key, hub_key, scope)


def _record_values(
    target: RecordTarget, item: dict[str, Any], date_formats: Sequence[str]
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    values = {k: v for k, v in item.items() if k not in _RECORD_META}
    data, errors = validate_record(target.specs, values, date_formats)
    if target.primary_key in data and len(key_text(data[target.primary_key])) > _MAX_KEY:
        errors.append((target.primary_key, f"must be at most {_MAX_KEY} characters"))
    return data, errors


def create_record(
    session: Session, principal: Principal, payload: Any, date_formats: Sequence[str]
) -> tuple[Record, str]:
    body = require_object(payload, "data")
    target = record_target(session, principal.org, body.get("dataTypeId"), body.get("hubId"))
    data, errors = _record_values(target, body, date_formats)
    if errors:
        raise invalid("data", errors)
    key = key_text(data[target.primary_key])
    taken = f"A record with {target.primary_key} '{key}' already exists"
    if queries.records_by_key(session, principal.org, target.data_type.id, target.scope, [key]):
        raise Conflict("data-031", taken)
    record = _new_record(principal, target, key, data)
    session.add(record)
    flush_unique(session, "data-031", taken)
    return record, target.data_type.name


def _new_record(
    principal: Principal, target: RecordTarget, key: str, data: dict[str, Any]
) -> Record:
    return Record(
        id=new_id(),  # known before the flush, for the bulk results
        organization_id=principal.org,
        data_type_id=target.data_type.id,
        hub_id=target.hub_id,
        scope=target.scope,
        data_id=key,
        data=data,
        created_by=principal.email,
        updated_by=principal.email,
    )


@dataclass
class _Item:
    n: int
    target: RecordTarget
    data: dict[str, Any]
    key: str | None
    errors: list[tuple[str, str]]

    @property
    def where(self) -> tuple[str, str, str]:
        return (self.target.data_type.id, self.target.scope, self.key or "")


def _bulk_items(body: dict[str, Any]) -> list[Any]:
    items = body.get("data")
    if items is None:
        raise BadRequest("data-001", "data is required")
    if not isinstance(items, list):
        raise BadRequest("data-003", "data must be a list")
    if len(items) > BULK_LIMIT:
        raise BadRequest("data-040", f"data has {len(items)} items; at most {BULK_LIMIT} allowed")
    return items


def upsert_records(
    session: Session, principal: Principal, payload: Any, date_formats: Sequence[str]
) -> list[dict[str, Any]]:
    """`/data/bulk/upsert`: each item created or updated by its key, or failed with a reason.

    Items run in order, so a key repeated in one request updates what the earlier item
    created. `dataTypeId`/`hubId` come from each item, or from the body as a default."""
    body = require_object(payload, "data")
    items = _bulk_items(body)
    targets: dict[tuple[str, str], RecordTarget | str] = {}
    planned: list[_Item] = []
    results: list[dict[str, Any]] = [{} for _ in items]
    for n, item in enumerate(items):
        if not isinstance(item, dict):
            results[n] = {"status": False, "message": "each item must be an object"}
            continue
        ids = (item.get("dataTypeId", body.get("dataTypeId")), item.get("hubId", body.get("hubId")))
        cache_key = (repr(ids[0]), repr(ids[1]))
        if cache_key not in targets:
            try:
                targets[cache_key] = record_target(session, principal.org, *ids)
            except ApiError as exc:
                targets[cache_key] = exc.message
        target = targets[cache_key]
        if isinstance(target, str):
            results[n] = {"status": False, "message": target}
            continue
        data, errors = _record_values(target, item, date_formats)
        key = key_text(data[target.primary_key]) if target.primary_key in data else None
        planned.append(_Item(n, target, data, key, errors))
    existing = _existing(session, principal.org, planned)
    for it in planned:
        found = existing.get(it.where) if it.key is not None else None
        if it.errors:
            results[it.n] = {"status": False, "message": reasons(it.errors)}
            if it.key is not None:  # what the item would have done
                results[it.n]["event"] = "update" if found is not None else "create"
            if found is not None:
                results[it.n]["_id"] = found.id
        elif found is not None:
            found.data = it.data
            found.hub_id = it.target.hub_id or found.hub_id
            found.updated_by = principal.email
            found.updated_time = utcnow()
            results[it.n] = {"status": True, "message": UPDATED, "event": "update", "_id": found.id}
        else:
            assert it.key is not None  # a valid item has its primary key
            record = existing[it.where] = _new_record(principal, it.target, it.key, it.data)
            session.add(record)
            results[it.n] = {
                "status": True,
                "message": CREATED,
                "event": "create",
                "_id": record.id,
            }
    flush_unique(session, "data-031", "Another request wrote one of these keys meanwhile; retry")
    return results


def _existing(
    session: Session, org: str, planned: Sequence[_Item]
) -> dict[tuple[str, str, str], Record]:
    groups: dict[tuple[str, str], list[str]] = {}
    for it in planned:
        if it.key is not None:
            groups.setdefault((it.target.data_type.id, it.target.scope), []).append(it.key)
    found: dict[tuple[str, str, str], Record] = {}
    for (type_id, scope), keys in groups.items():
        for key, record in queries.records_by_key(session, org, type_id, scope, keys).items():
            found[(type_id, scope, key)] = record
    return found


# ---- tasks -------------------------------------------------------------------------------


def _text(body: dict[str, Any], key: str, limit: int | None = None) -> str | None:
    value = body.get(key)
    if is_blank(value):
        return None
    if not isinstance(value, str):
        raise BadRequest("task-003", f"{key} must be a string")
    if limit is not None and len(value.strip()) > limit:
        raise BadRequest("task-003", f"{key} must be at most {limit} characters")
    return value.strip()


def _time(body: dict[str, Any], key: str, date_formats: Sequence[str]) -> datetime | None:
    value = body.get(key)
    if is_blank(value):
        return None
    if isinstance(value, (dict, list, bool)):
        raise BadRequest("task-003", f"{key}: must be a date and time")
    try:
        text = make_date_parsers(date_formats)[1](value)
    except Invalid as exc:
        raise BadRequest("task-003", f"{key}: {exc}") from None
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def create_task(
    session: Session, principal: Principal, payload: Any, date_formats: Sequence[str]
) -> tuple[Task, str]:
    body = require_object(payload, "task")
    if is_blank(body.get("flowId")):
        raise BadRequest("task-001", "flowId is required")
    flow = queries.get_owned(session, Flow, principal.org, body.get("flowId"))
    if flow is None:
        raise NotFound("flow-033", "Flow not found")
    hub_id = body.get("hubId")
    if not is_blank(hub_id) and queries.get_owned(session, Hub, principal.org, hub_id) is None:
        raise NotFound("hub-033", "Hub not found")
    raw_status = body.get("status")
    status = raw_status.strip().upper() if isinstance(raw_status, str) else raw_status
    status = "UNASSIGNED" if is_blank(status) else status
    if status not in TASK_STATUSES:
        raise BadRequest("task-017", f"status must be one of {', '.join(TASK_STATUSES)}")
    start, end = _time(body, "startTime", date_formats), _time(body, "endTime", date_formats)
    if start is not None and end is not None and end < start:
        raise BadRequest("task-003", "endTime must not be before startTime")
    values = {k: v for k, v in body.items() if k not in TASK_COLUMNS}
    data, errors = validate_record(fields_from_json(flow.fields), values, date_formats)
    if errors:
        raise invalid("task", errors)
    task = Task(
        organization_id=principal.org,
        flow_id=flow.id,
        hub_id=None if is_blank(hub_id) else hub_id,
        title=_text(body, "title"),
        status=status,
        assignee=_text(body, "assignee", _MAX_EMAIL),
        start_time=start,
        end_time=end,
        done_by=_text(body, "doneBy", _MAX_EMAIL),
        done_time=_time(body, "doneTime", date_formats),
        data=data,
        created_by=principal.email,
    )
    session.add(task)
    session.flush()
    return task, flow.name
