"""Catalog queries and changes. Services never commit: the caller owns the unit of work."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from loadbay.auth import Principal
from loadbay.catalog import queries
from loadbay.catalog.fields import FieldSpec, Invalid, converter_for, is_blank, parse_fields
from loadbay.catalog.models import DataType, Flow, Hub, Organization
from loadbay.catalog.schemas import DataTypeChange, DataTypeIn, FlowIn, HubIn
from loadbay.db import Database, get_database
from loadbay.errors import BadRequest, Conflict, NotFound, Unauthorized
from loadbay.ids import is_id, utcnow

REQUIRED = "is required"
UNKNOWN = "is not a field of this type"
TASK_COLUMNS = frozenset(
    {"flowId", "hubId", "title", "status", "assignee", "startTime", "endTime", "doneBy", "doneTime"}
)
_SYSTEM = frozenset({"_id", "organizationId", "createdBy", "createdTime", "updatedTime"})
# Field ids that would clash with an object's own keys in the JSON.
TASK_RESERVED = TASK_COLUMNS | _SYSTEM | {"flow"}
RECORD_RESERVED = _SYSTEM | {"dataTypeId", "hubId", "data_type", "updatedBy", "limitUser"}


def known_organisation(org: str, database: Database | None = None) -> bool:
    """Whether `org` exists here: the check `auth` runs on every token, handed to it as
    `app.state.known_organisation` by `create_app` (auth sits below the catalog), bound
    to the app's database (default: the process's)."""
    with (database or get_database()).read() as session:
        return session.get(Organization, org) is not None


def ensure_organization(session: Session, name_or_id: str) -> Organization:
    """The organisation with this id or name, created (by name) if there is none."""
    if is_id(name_or_id):
        found = session.get(Organization, name_or_id)
        if found is not None:
            return found
    org = session.scalar(sa.select(Organization).where(Organization.name == name_or_id))
    if org is None:
        org = Organization(name=name_or_id)
        session.add(org)
        session.flush()
    return org


# ---- values ------------------------------------------------------------------------------


def validate_record(
    specs: Sequence[FieldSpec], values: dict[str, Any], date_formats: Sequence[str] = ()
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Field values in, converted values and every (field, reason) that failed out.

    Blank optional values are left out; keys that are not fields are errors."""
    data: dict[str, Any] = {}
    errors: list[tuple[str, str]] = []
    for spec in specs:
        raw = values.get(spec.id)
        if is_blank(raw):
            if spec.required:
                errors.append((spec.id, REQUIRED))
            continue
        if isinstance(raw, (dict, list)):
            errors.append((spec.id, "must be a single value, not an object or a list"))
            continue
        try:
            data[spec.id] = converter_for(spec, date_formats)(raw)
        except Invalid as exc:
            errors.append((spec.id, str(exc)))
    known = {s.id for s in specs}
    errors += [(key, UNKNOWN) for key in values if key not in known]
    return data, errors


def reasons(errors: Sequence[tuple[str, str]]) -> str:
    return "; ".join(f"{field}: {why}" for field, why in errors)


def invalid(module: str, errors: Sequence[tuple[str, str]]) -> BadRequest:
    """400 naming every failed field: `-001` when the first is a missing value, else `-003`."""
    code = "001" if errors[0][1] == REQUIRED else "003"
    return BadRequest(f"{module}-{code}", reasons(errors))


def key_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def stored_fields(
    raw: Any, *, primary_key: str | None, module: str, reserved: frozenset[str]
) -> list[dict[str, Any]]:
    """Parsed field definitions as stored, keeping a field's `description` and `default`."""
    try:
        specs = parse_fields(raw, primary_key=primary_key)
    except ValueError as exc:
        raise BadRequest(f"{module}-003", f"fields: {exc}") from None
    clash = [s.id for s in specs if s.id in reserved]
    if clash:
        raise BadRequest(f"{module}-003", f"fields: {', '.join(clash)} is a reserved name")
    kept: dict[str, dict[str, Any]] = {}
    for item in raw or []:
        fid = str(item.get("id", item.get("name"))).strip()
        kept[fid] = {k: item[k] for k in ("description", "default") if item.get(k) is not None}
    return [{**s.as_dict(), **kept.get(s.id, {})} for s in specs]


def _check_org(session: Session, org: str) -> None:
    # Hubs, flows and types reference their organisation; a token for a missing one is void.
    if session.get(Organization, org) is None:
        raise Unauthorized(detail=f"unknown organisation: {org[:40]} does not exist on this server")


def flush_unique(session: Session, code: str, message: str) -> None:
    try:
        session.flush()
    except IntegrityError:  # a concurrent request took the key (PostgreSQL)
        raise Conflict(code, message) from None


# ---- hubs, flows, data types -------------------------------------------------------------


def create_hub(session: Session, org: str, body: HubIn) -> Hub:
    _check_org(session, org)
    if queries.name_taken(session, Hub, org, body.name):
        raise Conflict("hub-031", f"A hub named '{body.name}' already exists")
    hub = Hub(organization_id=org, name=body.name, extra=body.attributes())
    session.add(hub)
    session.flush()
    return hub


def create_flow(session: Session, org: str, body: FlowIn) -> Flow:
    _check_org(session, org)
    fields = stored_fields(body.fields, primary_key=None, module="flow", reserved=TASK_RESERVED)
    if queries.name_taken(session, Flow, org, body.name):
        raise Conflict("flow-031", f"A flow named '{body.name}' already exists")
    flow = Flow(organization_id=org, name=body.name, description=body.description, fields=fields)
    session.add(flow)
    session.flush()
    return flow


def create_data_type(session: Session, principal: Principal, body: DataTypeIn) -> DataType:
    _check_org(session, principal.org)
    fields = stored_fields(
        body.fields, primary_key="dataId", module="datatype", reserved=RECORD_RESERVED
    )
    if queries.name_taken(session, DataType, principal.org, body.name):
        raise Conflict("datatype-031", f"A data type named '{body.name}' already exists")
    data_type = DataType(
        organization_id=principal.org,
        name=body.name,
        description=body.description,
        common_data=body.commonData,
        fields=fields,
        created_by=principal.email,
    )
    session.add(data_type)
    session.flush()
    return data_type


def get_data_type(session: Session, org: str, data_type_id: str) -> DataType:
    found = queries.get_owned(session, DataType, org, data_type_id)
    if found is None:
        raise NotFound("datatype-033", "Data not found")
    return found


def _primary_key(fields: Sequence[dict[str, Any]]) -> str:
    return next((f["id"] for f in fields if f.get("primaryKey")), "dataId")


def _merge_fields(stored: Sequence[dict[str, Any]], incoming: Sequence[Any]) -> list[Any]:
    """PATCH: an incoming field replaces the stored one with its id, or is appended."""
    merged: list[Any] = [dict(f) for f in stored]
    index = {f["id"]: i for i, f in enumerate(stored)}
    for item in incoming:
        fid = item.get("id") if isinstance(item, dict) else None
        if isinstance(fid, str) and fid.strip() in index:
            merged[index[fid.strip()]] = item
        else:
            merged.append(item)
    return merged


def update_data_type(
    session: Session, org: str, data_type_id: str, change: DataTypeChange, *, replace: bool
) -> DataType:
    data_type = get_data_type(session, org, data_type_id)
    if replace and change.name is None:
        raise BadRequest("datatype-001", "name is required")
    if replace and change.fields is None:
        raise BadRequest("datatype-001", "fields is required")
    if change.commonData is not None and change.commonData != data_type.common_data:
        raise BadRequest("datatype-032", "commonData cannot change after creation")
    if change.name is not None and change.name != data_type.name:
        if queries.name_taken(session, DataType, org, change.name, exclude_id=data_type.id):
            raise Conflict("datatype-031", f"A data type named '{change.name}' already exists")
        data_type.name = change.name
    if change.description is not None:
        data_type.description = change.description
    if change.fields is not None or change.deleteFields:
        data_type.fields = _changed_fields(data_type.fields, change, replace)
    data_type.updated_time = utcnow()
    session.flush()
    return data_type


def _changed_fields(
    stored: list[dict[str, Any]], change: DataTypeChange, replace: bool
) -> list[dict[str, Any]]:
    key = _primary_key(stored)
    incoming = change.fields or []
    raw = list(incoming) if replace else _merge_fields(stored, incoming)
    if change.deleteFields:
        if key in change.deleteFields:
            raise BadRequest("datatype-032", f"the primaryKey field {key} cannot be deleted")
        ids = {f.get("id") for f in [*stored, *raw] if isinstance(f, dict)}
        unknown = [f for f in change.deleteFields if f not in ids]
        if unknown:
            raise BadRequest("datatype-003", f"deleteFields: unknown field {', '.join(unknown)}")
        raw = [f for f in raw if not (isinstance(f, dict) and f.get("id") in change.deleteFields)]
    fields = stored_fields(raw, primary_key=key, module="datatype", reserved=RECORD_RESERVED)
    if _primary_key(fields) != key:
        raise BadRequest("datatype-032", f"the primaryKey field ({key}) cannot change")
    return fields


def delete_data_type(session: Session, org: str, data_type_id: str) -> DataType:
    data_type = get_data_type(session, org, data_type_id)
    queries.delete_records_of(session, org, data_type.id)
    session.delete(data_type)
    session.flush()
    return data_type
