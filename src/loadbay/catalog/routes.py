"""Catalog endpoints under /api/v3: hubs, flows, data types, data-source records, tasks.

Reading hubs, flows and data types needs a valid token; reading records and tasks needs
`import` or `export`; changing the catalog needs `import` (or `admin`).
An id of another organisation answers 404 exactly like an unknown one.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, Query, Request
from sqlalchemy.orm import Session

from loadbay.auth import CanImport, CanRead, CurrentPrincipal, Principal
from loadbay.catalog import queries, service, writes
from loadbay.catalog.models import DataType, Flow, Hub, Record, Task
from loadbay.catalog.schemas import (
    DataTypeChange,
    DataTypeIn,
    DataTypeQuery,
    FlowIn,
    FlowQuery,
    HubIn,
    HubQuery,
    RecordQuery,
    TaskQuery,
    data_type_out,
    flow_out,
    hub_out,
    parse_body,
    record_out,
    task_out,
)
from loadbay.deps import AppSettings, ReadSession, WriteSession
from loadbay.errors import NotFound
from loadbay.pagination import ok, paginated
from loadbay.routing import Router

router = Router()

JsonBody = Annotated[Any, Body()]
Answer = dict[str, Any]


# ---- hubs --------------------------------------------------------------------------------


@router.post("/hub", status_code=201, response_model=None, tags=["catalog"])
def create_hub(principal: CanImport, session: WriteSession, payload: JsonBody) -> Answer:
    body = parse_body(HubIn, payload, "hub")
    return ok(hub_out(service.create_hub(session, principal.org, body)))


@router.get("/hubs", response_model=None, tags=["catalog"])
def list_hubs(
    request: Request,
    principal: CurrentPrincipal,
    session: ReadSession,
    params: Annotated[HubQuery, Query()],
) -> Answer:
    number, size = params.page, params.limit
    query = queries.hubs(principal.org, params.search)
    order = [Hub.name, Hub.id]
    return ok(
        paginated(
            request, session, query, order, number, size, lambda rows: [hub_out(h) for h in rows]
        )
    )


@router.get("/hub/{hub_id}", response_model=None, tags=["catalog"])
def get_hub(hub_id: str, principal: CurrentPrincipal, session: ReadSession) -> Answer:
    hub = queries.get_owned(session, Hub, principal.org, hub_id)
    if hub is None:
        raise NotFound("hub-033", "Hub not found")
    return ok(hub_out(hub))


# ---- flows -------------------------------------------------------------------------------


@router.post("/flow", status_code=201, response_model=None, tags=["catalog"])
def create_flow(principal: CanImport, session: WriteSession, payload: JsonBody) -> Answer:
    body = parse_body(FlowIn, payload, "flow")
    return ok(flow_out(service.create_flow(session, principal.org, body)))


@router.get("/flows", response_model=None, tags=["catalog"])
def list_flows(
    request: Request,
    principal: CurrentPrincipal,
    session: ReadSession,
    params: Annotated[FlowQuery, Query()],
) -> Answer:
    number, size = params.page, params.limit
    query = queries.flows(principal.org)
    order = queries.newest_first(Flow)
    return ok(
        paginated(
            request, session, query, order, number, size, lambda rows: [flow_out(f) for f in rows]
        )
    )


@router.get("/flow/{flow_id}", response_model=None, tags=["catalog"])
def get_flow(flow_id: str, principal: CurrentPrincipal, session: ReadSession) -> Answer:
    flow = queries.get_owned(session, Flow, principal.org, flow_id)
    if flow is None:
        raise NotFound("flow-033", "Flow not found")
    return ok(flow_out(flow))


# ---- data types (the vendor answers in `data_types` / `data_type`) ------------------------


@router.post("/data-type", status_code=201, response_model=None, tags=["catalog"])
def create_data_type(principal: CanImport, session: WriteSession, payload: JsonBody) -> Answer:
    body = parse_body(DataTypeIn, payload, "datatype")
    return ok(data_type=data_type_out(service.create_data_type(session, principal, body)))


@router.get("/data-types", response_model=None, tags=["catalog"])
def list_data_types(
    request: Request,
    principal: CurrentPrincipal,
    session: ReadSession,
    params: Annotated[DataTypeQuery, Query()],
) -> Answer:
    number, size = params.page, params.limit
    query = queries.data_types(principal.org)
    order = queries.newest_first(DataType)
    render = lambda rows: [data_type_out(d) for d in rows]  # noqa: E731
    return ok(data_types=paginated(request, session, query, order, number, size, render))


@router.get("/data-type/{data_type_id}", response_model=None, tags=["catalog"])
def get_data_type(data_type_id: str, principal: CurrentPrincipal, session: ReadSession) -> Answer:
    return ok(data_type=data_type_out(service.get_data_type(session, principal.org, data_type_id)))


@router.put("/data-type/{data_type_id}", response_model=None, tags=["catalog"])
def replace_data_type(
    data_type_id: str, principal: CanImport, session: WriteSession, payload: JsonBody
) -> Answer:
    return _change_data_type(data_type_id, principal, session, payload, replace=True)


@router.patch("/data-type/{data_type_id}", response_model=None, tags=["catalog"])
def patch_data_type(
    data_type_id: str, principal: CanImport, session: WriteSession, payload: JsonBody
) -> Answer:
    return _change_data_type(data_type_id, principal, session, payload, replace=False)


def _change_data_type(
    data_type_id: str, principal: Principal, session: Session, payload: Any, *, replace: bool
) -> Answer:
    change = parse_body(DataTypeChange, payload, "datatype")
    changed = service.update_data_type(
        session, principal.org, data_type_id, change, replace=replace
    )
    return ok(data_type=data_type_out(changed))


@router.delete("/data-type/{data_type_id}", response_model=None, tags=["catalog"])
def delete_data_type(data_type_id: str, principal: CanImport, session: WriteSession) -> Answer:
    deleted = service.delete_data_type(session, principal.org, data_type_id)
    return {
        "status": True,
        "data_type": data_type_out(deleted),
    }  # the vendor's delete has no message


# ---- data-source records -----------------------------------------------------------------


@router.post("/data", status_code=201, response_model=None, tags=["catalog"])
def create_record(
    principal: CanImport, session: WriteSession, settings: AppSettings, payload: JsonBody
) -> Answer:
    record, type_name = writes.create_record(session, principal, payload, settings.date_formats)
    return ok(record_out(record, type_name))


@router.post("/data/bulk/upsert", response_model=None, tags=["catalog"])
def bulk_upsert(
    principal: CanImport, session: WriteSession, settings: AppSettings, payload: JsonBody
) -> Answer:
    results = writes.upsert_records(session, principal, payload, settings.date_formats)
    success = sum(1 for r in results if r["status"])
    return {"success": success, "failed": len(results) - success, "data": results}


@router.get("/data", response_model=None, tags=["catalog"])
def list_records(
    request: Request,
    principal: CanRead,
    session: ReadSession,
    params: Annotated[RecordQuery, Query()],
) -> Answer:
    number, size = params.page, params.limit
    query = queries.records(principal.org, params.dataTypeId, params.hubId, params.keys())

    def render(rows: list[Record]) -> list[Any]:
        names = queries.names(session, DataType, principal.org, (r.data_type_id for r in rows))
        return [record_out(r, names.get(r.data_type_id, "")) for r in rows]

    order = queries.newest_first(Record)
    return ok(paginated(request, session, query, order, number, size, render))


@router.get("/data/{record_id}", response_model=None, tags=["catalog"])
def get_record(record_id: str, principal: CanRead, session: ReadSession) -> Answer:
    record = queries.get_owned(session, Record, principal.org, record_id)
    if record is None:
        raise NotFound("data-033", "Data not found")
    names = queries.names(session, DataType, principal.org, [record.data_type_id])
    return ok(record_out(record, names.get(record.data_type_id, "")))


# ---- tasks -------------------------------------------------------------------------------


@router.post("/task", status_code=201, response_model=None, tags=["catalog"])
def create_task(
    principal: CanImport, session: WriteSession, settings: AppSettings, payload: JsonBody
) -> Answer:
    task, flow_name = writes.create_task(session, principal, payload, settings.date_formats)
    return ok(task_out(task, flow_name))


@router.get("/tasks", response_model=None, tags=["catalog"])
def list_tasks(
    request: Request,
    principal: CanRead,
    session: ReadSession,
    params: Annotated[TaskQuery, Query()],
) -> Answer:
    number, size = params.page, params.limit
    query = queries.tasks(
        principal.org, params.flowId, params.hubId, params.status, params.assignee
    )

    def render(rows: list[Task]) -> list[Any]:
        names = queries.names(session, Flow, principal.org, (t.flow_id for t in rows))
        return [task_out(t, names.get(t.flow_id, "")) for t in rows]

    order = queries.newest_first(Task)
    return ok(paginated(request, session, query, order, number, size, render))


@router.get("/task/{task_id}", response_model=None, tags=["catalog"])
def get_task(task_id: str, principal: CanRead, session: ReadSession) -> Answer:
    task = queries.get_owned(session, Task, principal.org, task_id)
    if task is None:
        raise NotFound("task-033", "Task not found")
    names = queries.names(session, Flow, principal.org, [task.flow_id])
    return ok(task_out(task, names.get(task.flow_id, "")))


from loadbay.catalog.org_settings import router as settings_router  # noqa: E402

router.include_router(settings_router)
