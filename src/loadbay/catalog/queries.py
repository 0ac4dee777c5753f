"""The catalog's SQL. Every query takes the organisation and filters by it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loadbay.catalog.models import DataType, Flow, Hub, Record, Task

Owned = TypeVar("Owned", Hub, Flow, DataType, Record, Task)
Named = TypeVar("Named", Hub, Flow, DataType)
_BATCH = 500


def get_owned(session: Session, model: type[Owned], org: str, obj_id: Any) -> Owned | None:
    """The row with this id if it belongs to `org`; another organisation's row is None,
    exactly like an unknown id."""
    if not isinstance(obj_id, str) or not obj_id or len(obj_id) > 64:
        return None
    found = session.get(model, obj_id)
    return found if found is not None and found.organization_id == org else None


def name_taken(
    session: Session, model: type[Named], org: str, name: str, exclude_id: str | None = None
) -> bool:
    query = sa.select(model.id).where(model.organization_id == org, model.name == name)
    if exclude_id is not None:
        query = query.where(model.id != exclude_id)
    return session.scalar(query.limit(1)) is not None


def find_by_name(session: Session, model: type[Named], org: str, name: str) -> Named | None:
    query = sa.select(model).where(model.organization_id == org, model.name == name)
    return session.scalars(query.order_by(model.created_time, model.id).limit(1)).first()


def hubs(org: str, search: str | None) -> sa.Select[Hub]:
    query = sa.select(Hub).where(Hub.organization_id == org)
    if search:
        query = query.where(sa.func.lower(Hub.name).contains(search.lower(), autoescape=True))
    return query


def flows(org: str) -> sa.Select[Flow]:
    return sa.select(Flow).where(Flow.organization_id == org)


def data_types(org: str) -> sa.Select[DataType]:
    return sa.select(DataType).where(DataType.organization_id == org)


def records(
    org: str, data_type_id: str | None, hub_id: str | None, data_ids: list[str]
) -> sa.Select[Record]:
    query = sa.select(Record).where(Record.organization_id == org)
    if data_type_id:
        query = query.where(Record.data_type_id == data_type_id)
    if hub_id:
        query = query.where(Record.hub_id == hub_id)
    if data_ids:
        query = query.where(Record.data_id.in_(data_ids))
    return query


def tasks(
    org: str, flow_id: str | None, hub_id: str | None, status: str | None, assignee: str | None
) -> sa.Select[Task]:
    query = sa.select(Task).where(Task.organization_id == org)
    if flow_id:
        query = query.where(Task.flow_id == flow_id)
    if hub_id:
        query = query.where(Task.hub_id == hub_id)
    if status:
        query = query.where(Task.status == status)
    if assignee:
        query = query.where(Task.assignee == assignee)
    return query


def newest_first(model: type[Owned]) -> list[Any]:
    return [model.created_time.desc(), model.id.desc()]


def names(session: Session, model: type[Named], org: str, ids: Iterable[str]) -> dict[str, str]:
    """id → name of the organisation's rows among `ids` (one query)."""
    wanted = list(set(ids))
    if not wanted:
        return {}
    query = sa.select(model.id, model.name).where(
        model.organization_id == org, model.id.in_(wanted)
    )
    return {row_id: name for row_id, name in session.execute(query)}


def records_by_key(
    session: Session, org: str, data_type_id: str, scope: str, keys: Iterable[str]
) -> dict[str, Record]:
    """dataId → record within one (organisation, data type, scope)."""
    unique = list(dict.fromkeys(keys))
    found: dict[str, Record] = {}
    for start in range(0, len(unique), _BATCH):
        query = sa.select(Record).where(
            Record.organization_id == org,
            Record.data_type_id == data_type_id,
            Record.scope == scope,
            Record.data_id.in_(unique[start : start + _BATCH]),
        )
        found.update((r.data_id, r) for r in session.scalars(query))
    return found


def delete_records_of(session: Session, org: str, data_type_id: str) -> int:
    result = session.execute(
        sa.delete(Record).where(Record.organization_id == org, Record.data_type_id == data_type_id),
        execution_options={"synchronize_session": False},
    )
    return int(getattr(result, "rowcount", 0) or 0)


def tasks_of_flow(session: Session, org: str, flow_id: str) -> list[Task]:
    query = sa.select(Task).where(Task.organization_id == org, Task.flow_id == flow_id)
    return list(session.scalars(query))
