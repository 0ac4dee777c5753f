"""Read queries of the imports feature shared by its routes, views and events."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loadbay.catalog.models import DataType, Flow
from loadbay.imports.models import ImportJob


def target_names(session: Session, jobs: list[ImportJob]) -> dict[str, str]:
    type_ids = {j.data_type_id for j in jobs if j.data_type_id}
    flow_ids = {j.flow_id for j in jobs if j.flow_id}
    names: dict[str, str] = {}
    if type_ids:
        query = sa.select(DataType.id, DataType.name).where(DataType.id.in_(type_ids))
        names.update((row[0], row[1]) for row in session.execute(query))
    if flow_ids:
        query = sa.select(Flow.id, Flow.name).where(Flow.id.in_(flow_ids))
        names.update((row[0], row[1]) for row in session.execute(query))
    return names
