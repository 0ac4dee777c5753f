"""An export request checked against the organisation's catalog: the plan a writer runs.

A plan holds everything the export needs and nothing that must be looked up
again (columns with their titles and types, filters, order, window), and
round-trips through JSON so a background task runs exactly what was accepted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loadbay.catalog.fields import fields_from_json
from loadbay.catalog.models import DataType, Flow, Hub
from loadbay.errors import BadRequest
from loadbay.exports.models import ExportConfig
from loadbay.exports.schemas import ExportRequest


@dataclass(frozen=True)
class Column:
    id: str  # the field id: JSON key, sort name
    title: str  # the header
    kind: str  # a field type, or "timestamp" for a database time column
    source: str  # a table column name, "data" (the JSON document), "hub" or "flow" (names)


# Reserved fields: (id, title, kind, source). Titles match the importer's, so a file goes back in.
TASK_RESERVED: tuple[tuple[str, str, str, str], ...] = (
    ("_id", "ID", "string", "id"),
    ("title", "Title", "string", "title"),
    ("flow", "Flow", "string", "flow"),
    ("flowId", "Flow ID", "string", "flow_id"),
    ("hub", "Hub", "string", "hub"),
    ("hubId", "Hub ID", "string", "hub_id"),
    ("status", "Status", "string", "status"),
    ("assignee", "Assignee", "string", "assignee"),
    ("startTime", "Start Time", "timestamp", "start_time"),
    ("endTime", "End Time", "timestamp", "end_time"),
    ("doneBy", "Done By", "string", "done_by"),
    ("doneTime", "Done Time", "timestamp", "done_time"),
    ("createdBy", "Created By", "string", "created_by"),
    ("createdTime", "Created Time", "timestamp", "created_time"),
    ("updatedTime", "Updated Time", "timestamp", "updated_time"),
)
DATA_RESERVED: tuple[tuple[str, str, str, str], ...] = (
    ("_id", "ID", "string", "id"),
    ("dataId", "Data ID", "string", "data_id"),
    ("hubId", "Hub ID", "string", "hub_id"),
    ("hub", "Hub", "string", "hub"),
    ("createdTime", "Created Time", "timestamp", "created_time"),
    ("updatedTime", "Updated Time", "timestamp", "updated_time"),
)
# Columns that never hold NULL: their keyset needs no null flag.
NOT_NULL = frozenset({"id", "flow_id", "status", "data_id", "created_time", "updated_time"})


@dataclass(frozen=True)
class ExportPlan:
    org: str
    kind: str  # task | data
    download: str  # xlsx | json | csv
    columns: tuple[Column, ...]
    sort: Column
    descending: bool = True
    data_type_id: str | None = None
    flow_ids: tuple[str, ...] | None = None  # None: every flow; (): nothing matches
    hub_id: str | None = None
    statuses: tuple[str, ...] = ()
    done_by: str | None = None
    assignee: str | None = None
    offset: int = 0
    limit: int | None = None
    name: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ExportPlan:
        values = dict(raw)
        values["columns"] = tuple(Column(**c) for c in raw["columns"])
        values["sort"] = Column(**raw["sort"])
        values["statuses"] = tuple(raw.get("statuses") or ())
        if raw.get("flow_ids") is not None:
            values["flow_ids"] = tuple(raw["flow_ids"])
        return cls(**values)


def _unknown_id(name: str, value: str) -> BadRequest:
    return BadRequest("export-033", f"Unknown {name}: {value}")


def _config(session: Session, org: str, config_id: str, kind: str) -> ExportConfig:
    config = session.get(ExportConfig, config_id) if len(config_id) <= 64 else None
    if config is None or config.organization_id != org:
        raise _unknown_id("exportConfigId", config_id)
    if config.collection != kind:
        raise BadRequest(
            "export-003",
            f"Export config {config_id} is for {config.collection} exports, not {kind}",
        )
    return config


def _own_fields(stored: list[dict[str, Any]] | None, reserved: set[str]) -> list[Column]:
    try:
        specs = fields_from_json(stored or [])
    except (KeyError, TypeError):  # a definition this version cannot read is skipped
        return []
    return [Column(s.id, s.title, s.type, "data") for s in specs if s.id not in reserved]


def _data_id_column(types: list[DataType]) -> Column | None:
    for data_type in types:
        try:
            specs = fields_from_json(data_type.fields or [])
        except (KeyError, TypeError):
            continue
        key = next((s for s in specs if s.id == "dataId"), None)
        if key is not None:
            return Column("dataId", key.title, key.type, "data_id")
    return None


def _available(session: Session, req: ExportRequest, plan_args: dict[str, Any]) -> list[Column]:
    """Every column the export may name, in the default order."""
    org = plan_args["org"]
    if req.kind == "task":
        base = [Column(*r) for r in TASK_RESERVED]
        reserved = {c.id for c in base}
        query = sa.select(Flow).where(Flow.organization_id == org)
        if plan_args["field_flow_ids"] is not None:
            query = query.where(Flow.id.in_(plan_args["field_flow_ids"]))
        flows = list(session.scalars(query.order_by(Flow.created_time, Flow.id)))
        own = [c for flow in flows for c in _own_fields(flow.fields, reserved)]
        exported = plan_args["flow_ids"]
        names = [f.name for f in flows if exported is None or f.id in exported]
        plan_args["name"] = ", ".join(names) if names else "Tasks"
    else:
        base = [Column(*r) for r in DATA_RESERVED]
        reserved = {c.id for c in base}
        types_query = sa.select(DataType).where(DataType.organization_id == org)
        if plan_args["data_type_id"] is not None:
            types_query = types_query.where(DataType.id == plan_args["data_type_id"])
        order = (DataType.created_time, DataType.id)
        types = list(session.scalars(types_query.order_by(*order)))
        own = [c for data_type in types for c in _own_fields(data_type.fields, reserved)]
        key = _data_id_column(types)
        if key is not None:  # titled and typed as the (first) data type defines it
            base[1] = key
        plan_args["name"] = types[0].name if plan_args["data_type_id"] and types else "Data"
    seen: dict[str, Column] = {}
    for column in base + own:
        seen.setdefault(column.id, column)  # the first flow that defines a field gives its title
    return list(seen.values())


def build_plan(session: Session, org: str, req: ExportRequest) -> ExportPlan:
    """Check every id, field and sort name of `req` against `org`'s catalog (400 naming it)."""
    config = _config(session, org, req.export_config_id, req.kind) if req.export_config_id else None
    flow_ids = req.flow_ids
    data_type_id = req.data_type_id
    if req.kind == "task" and flow_ids:
        known = set(
            session.scalars(
                sa.select(Flow.id).where(Flow.organization_id == org, Flow.id.in_(flow_ids))
            )
        )
        missing = [f for f in flow_ids if f not in known]
        if missing:
            raise _unknown_id("flowId", ", ".join(missing))
    # The columns come from every flow the config (else the request) names; the rows only
    # from the flows both name. A config's field that some of its flows lack stays a
    # column (empty for those flows' tasks) when the request narrows the flows.
    field_flow_ids = flow_ids
    if config is not None and config.flow_ids:
        allowed = set(config.flow_ids)
        field_flow_ids = tuple(config.flow_ids)
        flow_ids = tuple(f for f in flow_ids if f in allowed) if flow_ids else field_flow_ids
    if req.kind == "data":
        if data_type_id is not None:
            found = session.get(DataType, data_type_id) if len(data_type_id) <= 64 else None
            if found is None or found.organization_id != org:
                raise _unknown_id("dataTypeId", data_type_id)
        if config is not None and config.data_type_id:
            if data_type_id not in (None, config.data_type_id):
                raise BadRequest(
                    "export-003",
                    f"Export config {config.id} is for data type {config.data_type_id}",
                )
            data_type_id = config.data_type_id
    if req.hub_id is not None:
        hub = session.get(Hub, req.hub_id) if len(req.hub_id) <= 64 else None
        if hub is None or hub.organization_id != org:
            raise _unknown_id("hubId", req.hub_id)
    args: dict[str, Any] = {
        "org": org,
        "flow_ids": flow_ids,
        "field_flow_ids": field_flow_ids,
        "data_type_id": data_type_id,
    }
    available = _available(session, req, args)
    by_id = {c.id: c for c in available}
    columns = _choose(req, config, by_id, available)
    sort = by_id.get(req.sort_by)
    if sort is None:
        raise BadRequest("export-003", f"Unknown sortBy field: {req.sort_by}")
    offset = (req.page - 1) * req.limit if req.limit else 0
    return ExportPlan(
        org=org,
        kind=req.kind,
        download=req.download,
        columns=tuple(columns),
        sort=sort,
        descending=req.sort_order == "desc",
        data_type_id=data_type_id,
        flow_ids=flow_ids,
        hub_id=req.hub_id,
        statuses=req.statuses,
        done_by=req.done_by,
        assignee=req.assignee,
        offset=offset,
        limit=req.limit,
        name=str(args["name"])[:500],
    )


def _choose(
    req: ExportRequest,
    config: ExportConfig | None,
    by_id: dict[str, Column],
    available: list[Column],
) -> list[Column]:
    if config is not None:
        wanted = [(str(f.get("id", "")), f.get("title")) for f in config.fields or []]
    elif req.fields:
        wanted = [(f, None) for f in req.fields]
    else:
        return available
    unknown = [fid for fid, _ in wanted if fid not in by_id]
    if unknown:
        label = "field" if len(unknown) == 1 else "fields"
        raise BadRequest("export-003", f"Unknown {label}: {', '.join(unknown)}")
    columns: list[Column] = []
    for fid, title in dict(wanted).items():  # a field named twice is exported once
        column = by_id[fid]
        if isinstance(title, str) and title.strip():
            column = Column(column.id, title.strip(), column.kind, column.source)
        columns.append(column)
    return columns
