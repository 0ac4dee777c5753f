"""What an import writes into: a data type's records or a flow's tasks, as field specs."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from loadbay.catalog.fields import FieldSpec, fields_from_json
from loadbay.catalog.models import TASK_STATUSES, DataType, Flow
from loadbay.errors import BadRequest, NotFound

# Task fields that live in their own columns; every other field is a flow field.
TASK_RESERVED: tuple[FieldSpec, ...] = (
    FieldSpec("title", "Title", "string"),
    FieldSpec("status", "Status", "option", options=TASK_STATUSES),
    FieldSpec("assignee", "Assignee", "string"),
    FieldSpec("hubId", "Hub ID", "string"),
    FieldSpec("startTime", "Start Time", "datetime"),
    FieldSpec("endTime", "End Time", "datetime"),
    FieldSpec("doneBy", "Done By", "string"),
    FieldSpec("doneTime", "Done Time", "datetime"),
)
TASK_RESERVED_IDS = frozenset(f.id for f in TASK_RESERVED)


@dataclass(frozen=True)
class Target:
    kind: str  # datasource | task
    id: str
    name: str
    specs: tuple[FieldSpec, ...]
    common_data: bool = False

    @property
    def primary_key(self) -> str | None:
        return next((s.id for s in self.specs if s.primary_key), None)

    def spec(self, field_id: str) -> FieldSpec | None:
        return next((s for s in self.specs if s.id == field_id), None)


def load_target(session: Session, org: str, kind: str, target_id: str) -> Target:
    if kind == "datasource":
        dt = session.get(DataType, target_id)
        if dt is None or dt.organization_id != org:
            raise NotFound("import-033", f"Data type {target_id} not found")
        return Target(
            "datasource", dt.id, dt.name, tuple(fields_from_json(dt.fields)), dt.common_data
        )
    flow = session.get(Flow, target_id)
    if flow is None or flow.organization_id != org:
        raise NotFound("import-033", f"Flow {target_id} not found")
    own = tuple(s for s in fields_from_json(flow.fields or []) if s.id not in TASK_RESERVED_IDS)
    return Target("task", flow.id, flow.name, TASK_RESERVED + own)


def check_match_field(target: Target, match_field: str | None) -> str | None:
    """The effective match field: the primary key by default for records, none for tasks."""
    if match_field in (None, ""):
        return target.primary_key
    if match_field == "_id" or target.spec(match_field) is not None:
        return match_field
    raise BadRequest("import-003", f"Unknown matchField '{match_field}'")
