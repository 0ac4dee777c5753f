"""Request bodies of the catalog and the vendor's response shapes.

Bodies are parsed here rather than by FastAPI so that a well-formed body with a
bad value answers 400 with the field's name (FastAPI would answer 422); only a
body that is not JSON at all gets the 400 of the installed handler.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictStr
from pydantic import StringConstraints as Text

from loadbay.catalog.models import TASK_STATUSES, DataType, Flow, Hub, Record, Task
from loadbay.errors import BadRequest
from loadbay.ids import fmt_time

# Parsed by the shared helpers (imports and exports use them too); named here for the catalog.
from loadbay.parsing import PageQuery
from loadbay.parsing import parse_body as parse_body
from loadbay.parsing import require_object as require_object

Name = Annotated[StrictStr, Text(strip_whitespace=True, min_length=1, max_length=200)]

# Keys an object carries besides its own: never taken from a client's body.
SYSTEM_KEYS = frozenset({"_id", "organizationId", "createdTime", "updatedTime", "createdBy"})


class HubIn(BaseModel):
    """`name` plus any further attributes, kept and echoed as given."""

    model_config = ConfigDict(extra="allow")
    name: Name

    def attributes(self) -> dict[str, Any]:
        extra = self.model_extra or {}
        return {k: v for k, v in extra.items() if k not in SYSTEM_KEYS}


class FlowIn(BaseModel):
    name: Name
    description: StrictStr | None = None
    fields: list[Any] | None = None


class DataTypeIn(BaseModel):
    # Unknown keys are ignored: a client may send back a whole object it read.
    name: Name
    description: StrictStr | None = None
    commonData: StrictBool = False
    fields: list[Any] | None = None
    limitUser: StrictBool | None = None
    provider: Literal["internal"] = "internal"


class DataTypeChange(BaseModel):
    """PUT replaces the fields (name and fields required); PATCH changes what it names."""

    name: Name | None = None
    description: StrictStr | None = None
    commonData: StrictBool | None = None
    fields: list[Any] | None = None
    deleteFields: list[StrictStr] = Field(default_factory=list)
    limitUser: StrictBool | None = None
    provider: Literal["internal"] | None = None


# ---- query parameters of the lists ------------------------------------------------------


class HubQuery(PageQuery):
    module = "hub"
    search: str | None = None


class FlowQuery(PageQuery):
    module = "flow"


class DataTypeQuery(PageQuery):
    module = "datatype"


class RecordQuery(PageQuery):
    module = "data"
    dataTypeId: str | None = None
    hubId: str | None = None
    dataId: str | None = None  # comma-separated record keys

    def keys(self) -> list[str]:
        return [k.strip() for k in (self.dataId or "").split(",") if k.strip()]


def _task_status(raw: Any) -> str | None:
    if raw and str(raw).strip().upper() not in TASK_STATUSES:
        raise BadRequest("task-017", f"status must be one of {', '.join(TASK_STATUSES)}")
    return str(raw).strip().upper() if raw else None


class TaskQuery(PageQuery):
    module = "task"
    flowId: str | None = None
    hubId: str | None = None
    status: Annotated[str | None, BeforeValidator(_task_status)] = None
    assignee: str | None = None


# ---- responses ---------------------------------------------------------------------------


def _present(values: dict[str, Any]) -> dict[str, Any]:
    """A value the object does not have is left out, never null."""
    return {k: v for k, v in values.items() if v is not None}


def hub_out(hub: Hub) -> dict[str, Any]:
    return {
        "_id": hub.id,
        "name": hub.name,
        **{k: v for k, v in (hub.extra or {}).items() if k not in SYSTEM_KEYS},
        "organizationId": hub.organization_id,
        "createdTime": fmt_time(hub.created_time),
        "updatedTime": fmt_time(hub.updated_time),
    }


def flow_out(flow: Flow) -> dict[str, Any]:
    return _present(
        {
            "_id": flow.id,
            "name": flow.name,
            "description": flow.description,
            "fields": flow.fields,
            "organizationId": flow.organization_id,
            "createdTime": fmt_time(flow.created_time),
            "updatedTime": fmt_time(flow.updated_time),
        }
    )


def data_type_out(data_type: DataType) -> dict[str, Any]:
    out = _present(
        {
            "_id": data_type.id,
            "name": data_type.name,
            "description": data_type.description,
            "commonData": data_type.common_data,
            "fields": data_type.fields,
            "createdBy": data_type.created_by,
            "organizationId": data_type.organization_id,
            "updatedTime": fmt_time(data_type.updated_time),
            "createdTime": fmt_time(data_type.created_time),
            "provider": "internal",
        }
    )
    out["providerConfig"] = None  # the vendor shows it as null for internal types
    return out


def record_out(record: Record, data_type_name: str) -> dict[str, Any]:
    return {
        "_id": record.id,
        **{k: v for k, v in record.data.items() if k != "_id"},
        "dataTypeId": record.data_type_id,
        "data_type": {"_id": record.data_type_id, "name": data_type_name},
        **_present(
            {
                "hubId": record.hub_id,
                "organizationId": record.organization_id,
                "updatedBy": record.updated_by,
                "createdBy": record.created_by,
                "updatedTime": fmt_time(record.updated_time),
                "createdTime": fmt_time(record.created_time),
            }
        ),
    }


_TASK_KEYS = frozenset(
    {"_id", "title", "flowId", "flow", "hubId", "status", "assignee", "startTime", "endTime"}
    | {"doneBy", "doneTime", "createdBy", "createdTime", "updatedTime", "organizationId"}
)


def task_out(task: Task, flow_name: str) -> dict[str, Any]:
    fixed = _present(
        {
            "title": task.title,
            "flowId": task.flow_id,
            "flow": flow_name,
            "hubId": task.hub_id,
            "status": task.status,
            "assignee": task.assignee,
            "startTime": fmt_time(task.start_time),
            "endTime": fmt_time(task.end_time),
            "doneBy": task.done_by,
            "doneTime": fmt_time(task.done_time),
            "createdBy": task.created_by,
            "createdTime": fmt_time(task.created_time),
            "updatedTime": fmt_time(task.updated_time),
            "organizationId": task.organization_id,
        }
    )
    own = {k: v for k, v in (task.data or {}).items() if k not in _TASK_KEYS}
    return {"_id": task.id, **fixed, **own}
