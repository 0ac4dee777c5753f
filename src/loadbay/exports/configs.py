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
from loadbay.exports.schemas import ConfigChecks, ExportConfigIn, iso_z
from loadbay.ids import utcnow
from loadbay.pagination import paginated
from loadbay.parsing import PageQuery, sort_order, validate
from loadbay.routing import Router

router = Router()

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


def _object(payload: Any) -> dict[str, Any]:
    if payload is None:
        return {}
    if not isinstance(payload, dict):
        raise BadRequest("export-003", "The body must be a JSON object")
    return payload


def _checks(session: Session, org: str, config: ExportConfig, creating: bool) -> ConfigChecks:
    def name_taken(name: str) -> bool:
        query = sa.select(ExportConfig.id).where(
            ExportConfig.organization_id == org, ExportConfig.name == name
        )
        if config.id is not None:
            query = query.where(ExportConfig.id != config.id)
        return session.scalar(query.limit(1)) is not None

    def unknown_flows(wanted: list[str]) -> list[str]:
        known = set(
            session.scalars(
                sa.select(Flow.id).where(Flow.organization_id == org, Flow.id.in_(wanted))
            )
        )
        return [f for f in wanted if f not in known]

    def data_type_known(data_type_id: str) -> bool:
        found = session.get(DataType, data_type_id)
        return found is not None and found.organization_id == org

    return ConfigChecks(creating, name_taken, unknown_flows, data_type_known)


def apply(
    session: Session, org: str, config: ExportConfig, body: dict[str, Any], *, creating: bool
) -> None:
    """Set the config from its body (see `ExportConfigIn`), checked whole first."""
    given = validate(ExportConfigIn, body, "export", _checks(session, org, config, creating))
    if given.name is not None:
        config.name = given.name
    config.collection = given.collection
    config.description = given.description
    config.flow_ids = given.flowIds
    config.data_type_id = given.dataTypeId
    config.fields = given.fields


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
