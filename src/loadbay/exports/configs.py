"""Export configs: saved field selections (and flows) that an export can name.

Shapes and messages are the vendor's (`code` and "Success." included). A
config's fields are stored as given, every attribute kept; their ids are
checked when an export uses the config, against the catalog of that moment.
"""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Body, Query, Request
from sqlalchemy.orm import Session

from loadbay.auth import Principal, require
from loadbay.catalog.models import DataType, Flow
from loadbay.deps import ReadSession, WriteSession
from loadbay.errors import BadRequest, NotFound
from loadbay.exports.models import ExportConfig
from loadbay.exports.schemas import iso_z
from loadbay.ids import utcnow
from loadbay.pagination import paginated
from loadbay.parsing import PageQuery, sort_order
from loadbay.routing import Router

router = Router()

COLLECTIONS = ("task", "data")
# Any JSON: the body is checked here, so a bad value is a 400 naming it (not FastAPI's 422).
Payload = Annotated[Any, Body()]


class ConfigQuery(PageQuery):
    """`GET /export-configs`'s parameters (page and limit first, as `page_params` checks)."""

    module = "export"
    collection: str | None = None
    name: str | None = None
    sortOrder: Annotated[
        str, sort_order("export-017", "The selected sortOrder is invalid: {}.")
    ] = "desc"


ConfigManager = Annotated[
    Principal, require("export", message="You do not have permission to manage export configs")
]


def _not_found() -> NotFound:
    return NotFound("export-033", "Data not found")


def config_out(config: ExportConfig) -> dict[str, Any]:
    out: dict[str, Any] = {
        "_id": config.id,
        "name": config.name,
        "description": config.description,
        "collection": config.collection,
        "fields": config.fields,
        "flowIds": config.flow_ids,
    }
    if config.data_type_id:
        out["dataTypeId"] = config.data_type_id
    out.update(
        organizationId=config.organization_id,
        updatedTime=iso_z(config.updated_time),
        createdTime=iso_z(config.created_time),
    )
    return {k: v for k, v in out.items() if v is not None}


def _answer(code: int, message: str, data: Any) -> dict[str, Any]:
    return {"status": True, "code": code, "message": message, "data": data}


def _required(name: str) -> BadRequest:
    return BadRequest("export-001", f"The {name} field is required.")


def _string(body: dict[str, Any], name: str, *, required: bool, most: int = 200) -> str | None:
    value = body.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise _required(name)
        return None
    if not isinstance(value, str):
        raise BadRequest("export-003", f"The {name} must be a string.")
    if len(value) > most or "\x00" in value:
        raise BadRequest("export-003", f"The {name} must be text of at most {most} characters.")
    return value.strip()


def _fields(raw: Any) -> list[dict[str, Any]]:
    if raw is None or raw == []:
        raise _required("fields")
    if not isinstance(raw, list):
        raise BadRequest("export-003", "The fields must be an array.")
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise BadRequest("export-003", f"The fields.{i} must be an object.")
        for key in ("id", "component", "title"):
            value = item.get(key)
            if not isinstance(value, str) or not value.strip():
                raise _required(f"fields.{i}.{key}")
    return raw


def _flow_ids(session: Session, org: str, raw: Any, required: bool) -> list[str]:
    if raw is None or raw == []:
        if required:
            raise _required("flowIds")
        return []
    if not isinstance(raw, list) or not all(isinstance(f, str) and f for f in raw):
        raise BadRequest("export-003", "The flowIds must be an array of flow ids.")
    wanted = list(dict.fromkeys(raw))
    known = set(
        session.scalars(sa.select(Flow.id).where(Flow.organization_id == org, Flow.id.in_(wanted)))
    )
    missing = [f for f in wanted if f not in known]
    if missing:
        raise BadRequest("export-033", f"Unknown flowId: {', '.join(missing)}")
    return wanted


def _object(payload: Any) -> dict[str, Any]:
    if payload is None:
        return {}
    if not isinstance(payload, dict):
        raise BadRequest("export-003", "The body must be a JSON object")
    return payload


def apply(
    session: Session, org: str, config: ExportConfig, body: dict[str, Any], *, creating: bool
) -> None:
    name = _string(body, "name", required=creating)
    if name is not None:
        query = sa.select(ExportConfig.id).where(
            ExportConfig.organization_id == org, ExportConfig.name == name
        )
        if config.id is not None:
            query = query.where(ExportConfig.id != config.id)
        if session.scalar(query.limit(1)) is not None:
            raise BadRequest("export-002", "The name has already been taken.")
        config.name = name
    collection = _string(body, "collection", required=True, most=50)
    if collection not in COLLECTIONS:
        raise BadRequest(
            "export-017", f"The selected collection is invalid: {collection} (use task or data)."
        )
    config.collection = collection
    config.description = _string(body, "description", required=False, most=10_000)
    config.flow_ids = _flow_ids(session, org, body.get("flowIds"), collection == "task")
    data_type_id = _string(body, "dataTypeId", required=False, most=64)
    if data_type_id is not None:
        found = session.get(DataType, data_type_id)
        if collection != "data" or found is None or found.organization_id != org:
            raise BadRequest("export-033", f"Unknown dataTypeId: {data_type_id}")
    config.data_type_id = data_type_id
    config.fields = _fields(body.get("fields"))


def _owned(session: Session, org: str, config_id: str) -> ExportConfig:
    config = session.get(ExportConfig, config_id) if len(config_id) <= 64 else None
    if config is None or config.organization_id != org:
        raise _not_found()
    return config


@router.get("/export-configs")
def list_configs(
    request: Request,
    principal: ConfigManager,
    session: ReadSession,
    params: Annotated[ConfigQuery, Query()],
) -> dict[str, Any]:
    where = [ExportConfig.organization_id == principal.org]
    if params.collection:
        where.append(ExportConfig.collection == params.collection)
    if params.name:
        name = params.name.lower()
        where.append(sa.func.lower(ExportConfig.name).contains(name, autoescape=True))
    time, ident = ExportConfig.created_time, ExportConfig.id
    ordering = [time.desc(), ident.desc()] if params.sortOrder == "desc" else [time, ident]
    query = sa.select(ExportConfig).where(*where)
    render = lambda rows: [config_out(c) for c in rows]  # noqa: E731
    number, size = params.page, params.limit
    return _answer(
        200, "Success.", paginated(request, session, query, ordering, number, size, render)
    )


@router.get("/export-config/{config_id}")
def get_config(config_id: str, principal: ConfigManager, session: ReadSession) -> dict[str, Any]:
    return _answer(200, "Success.", config_out(_owned(session, principal.org, config_id)))


@router.post("/export-config", status_code=201)
def create_config(
    principal: ConfigManager, session: WriteSession, payload: Payload = None
) -> dict[str, Any]:
    config = ExportConfig(organization_id=principal.org, created_by=principal.email)
    apply(session, principal.org, config, _object(payload), creating=True)
    session.add(config)
    session.flush()
    return _answer(201, "Export Config has been added successfully.", config_out(config))


@router.put("/export-config/{config_id}/")
def update_config(
    config_id: str, principal: ConfigManager, session: WriteSession, payload: Payload = None
) -> dict[str, Any]:
    config = _owned(session, principal.org, config_id)
    apply(session, principal.org, config, _object(payload), creating=False)
    config.updated_time = utcnow()
    session.flush()
    return _answer(200, "Export Config has been updated successfully.", config_out(config))


@router.delete("/export-config/{config_id}/")
def delete_config(
    config_id: str, principal: ConfigManager, session: WriteSession
) -> dict[str, Any]:
    config = _owned(session, principal.org, config_id)
    out = config_out(config)
    session.delete(config)
    return _answer(200, "Export Config has been deleted successfully.", out)
