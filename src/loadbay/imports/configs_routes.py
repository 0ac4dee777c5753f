"""Import configs: saved column mappings of a data type or a flow.

`{_id, name, description, collection, referenceType (dataType|flow),
referenceId, fields: [{id, headerColumn}], organizationId, createdTime,
updatedTime}`. An import names one with `importConfigId`. A config of
another organisation answers 404 exactly like an unknown one.
"""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Body, Query, Request
from pydantic import BeforeValidator
from sqlalchemy.orm import Session

from loadbay.auth import CanImport
from loadbay.deps import ReadSession, WriteSession
from loadbay.errors import ApiError, BadRequest, NotFound
from loadbay.ids import fmt_time, utcnow
from loadbay.imports.bodies import ConfigContext, ImportConfigIn
from loadbay.imports.models import ImportConfig
from loadbay.imports.target import Target, load_target
from loadbay.pagination import ok, paginated
from loadbay.parsing import PageQuery, parse_body, sort_order
from loadbay.routing import Router

router = Router()

JsonBody = Annotated[Any, Body()]
REFERENCE_KINDS = {"dataType": "datasource", "flow": "task"}
DEFAULT_COLLECTION = {"dataType": "data", "flow": "task"}


def _reference_type(raw: Any) -> str | None:
    if raw and raw not in REFERENCE_KINDS:
        raise BadRequest("import-003", f"Invalid referenceType value: {raw}")
    return str(raw) if raw else None


class ConfigQuery(PageQuery):
    """`GET /import-configs`'s parameters, checked in the order the vendor checks them."""

    module = "import"
    referenceType: Annotated[str | None, BeforeValidator(_reference_type)] = None
    referenceId: str | None = None
    name: str | None = None
    sortOrder: Annotated[str, sort_order("import-003", "Invalid sortOrder value: {}")] = "desc"


def config_out(config: ImportConfig) -> dict[str, Any]:
    body = {
        "_id": config.id,
        "name": config.name,
        "description": config.description,
        "collection": config.collection,
        "referenceType": config.reference_type,
        "referenceId": config.reference_id,
        "fields": config.fields,
        "organizationId": config.organization_id,
        "createdTime": fmt_time(config.created_time),
        "updatedTime": fmt_time(config.updated_time),
    }
    if config.description is None:  # a string with no value is left out, never null
        del body["description"]
    return body


def get_config(session: Session, org: str, config_id: str) -> ImportConfig:
    config = session.get(ImportConfig, config_id)
    if config is None or config.organization_id != org:
        raise NotFound("import-033", f"Import config {config_id} not found")
    return config


# ---- validation --------------------------------------------------------------------------


def _target(session: Session, org: str, reference_type: str, reference_id: str) -> Target:
    kind = REFERENCE_KINDS.get(reference_type)
    if kind is None:
        raise BadRequest("import-003", "referenceType must be one of dataType, flow")
    try:
        return load_target(session, org, kind, reference_id)
    except ApiError as exc:
        raise BadRequest("import-003", f"referenceId: {exc.message}") from None


def _apply(
    session: Session, org: str, config: ImportConfig, payload: Any, *, creating: bool
) -> None:
    """Set the config from a full (create) or partial (update) body, checked whole."""

    def target(reference_type: str, reference_id: str) -> Target:
        return _target(session, org, reference_type, reference_id)

    context = ConfigContext(creating, config, target)
    body = parse_body(ImportConfigIn, payload, "import", context)
    if body.name is not None:
        config.name = body.name
    if creating or "description" in body.model_fields_set:
        config.description = body.description
    reference_type, reference_id = body.reference(config)
    if body.fields is not None:
        config.fields = body.fields
    config.reference_type, config.reference_id = reference_type, reference_id
    if body.collection is not None or config.collection is None:
        config.collection = body.collection or DEFAULT_COLLECTION[reference_type]


# ---- routes ------------------------------------------------------------------------------


@router.post("/import-config", status_code=201, response_model=None, tags=["import-configs"])
def create_import_config(
    principal: CanImport, session: WriteSession, payload: JsonBody
) -> dict[str, Any]:
    config = ImportConfig(organization_id=principal.org)
    _apply(session, principal.org, config, payload, creating=True)
    session.add(config)
    session.flush()
    return ok(config_out(config))


@router.get("/import-configs", response_model=None, tags=["import-configs"])
def list_import_configs(
    request: Request,
    principal: CanImport,
    session: ReadSession,
    params: Annotated[ConfigQuery, Query()],
) -> dict[str, Any]:
    where = [ImportConfig.organization_id == principal.org]
    if params.referenceType:
        where.append(ImportConfig.reference_type == params.referenceType)
    if params.referenceId:
        where.append(ImportConfig.reference_id == params.referenceId)
    if params.name:
        name = params.name.lower()
        where.append(sa.func.lower(ImportConfig.name).contains(name, autoescape=True))
    columns = (ImportConfig.created_time, ImportConfig.id)
    ordering = [c.asc() if params.sortOrder == "asc" else c.desc() for c in columns]
    query = sa.select(ImportConfig).where(*where)
    render = lambda rows: [config_out(c) for c in rows]  # noqa: E731
    return ok(paginated(request, session, query, ordering, params.page, params.limit, render))


@router.get("/import-config/{config_id}", response_model=None, tags=["import-configs"])
def get_import_config(config_id: str, principal: CanImport, session: ReadSession) -> dict[str, Any]:
    return ok(config_out(get_config(session, principal.org, config_id)))


@router.put("/import-config/{config_id}", response_model=None, tags=["import-configs"])
def update_import_config(
    config_id: str, principal: CanImport, session: WriteSession, payload: JsonBody
) -> dict[str, Any]:
    config = get_config(session, principal.org, config_id)
    _apply(session, principal.org, config, payload, creating=False)
    config.updated_time = utcnow()
    session.flush()
    return ok(config_out(config))


@router.delete("/import-config/{config_id}", response_model=None, tags=["import-configs"])
def delete_import_config(
    config_id: str, principal: CanImport, session: WriteSession
) -> dict[str, Any]:
    config = get_config(session, principal.org, config_id)
    body = config_out(config)
    session.delete(config)
    return ok(body)
