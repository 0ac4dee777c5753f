"""Read queries of the imports feature shared by its routes, views and events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loadbay.catalog.models import DataType, Flow
from loadbay.imports.models import ImportJob, ImportRevertConflict
from loadbay.imports.target import Target
from loadbay.pagination import page_rows

HISTORY_JOBS = 20  # earlier jobs consulted for a suggestion (mapping, value map), newest first


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


def jobs_query(
    org: str,
    *,
    types: Sequence[str] | None = None,
    statuses: Sequence[str] | None = None,
    data_type_id: str | None = None,
) -> sa.Select[ImportJob]:
    """The confirmed import jobs of an organisation (a draft is no monitoring record),
    of any of `types` and `statuses` unless None: monitoring and the console's history."""
    where = [ImportJob.organization_id == org, ImportJob.confirmed.is_(True)]
    if types is not None:
        where.append(ImportJob.type.in_(types))
    if statuses is not None:
        where.append(ImportJob.status.in_(statuses))
    if data_type_id:
        where.append(ImportJob.data_type_id == data_type_id)
    return sa.select(ImportJob).where(*where)


def earlier_jobs(session: Session, org: str, target: Target, what: Any) -> list[Any]:
    """`what` (a column) of this organisation's confirmed jobs for the same target, newest
    first: what a suggestion remembers (mappings, value maps)."""
    column = ImportJob.data_type_id if target.kind == "datasource" else ImportJob.flow_id
    found = session.scalars(
        sa.select(what)
        .where(
            ImportJob.organization_id == org,
            ImportJob.type == target.kind,
            column == target.id,
            ImportJob.confirmed.is_(True),
        )
        .order_by(ImportJob.created_time.desc(), ImportJob.id.desc())
        .limit(HISTORY_JOBS)
    )
    return list(found)


def mapping_history(session: Session, org: str, target: Target) -> list[list[dict[str, Any]]]:
    """The mappings of this organisation's earlier jobs for the same target, newest first."""
    found = earlier_jobs(session, org, target, ImportJob.mapping)
    return [list(m) for m in found if m]  # a JSON null is not filtered by IS NOT NULL


def conflicts_page(
    session: Session, code: str, page: int, per_page: int
) -> tuple[list[dict[str, Any]], int]:
    """One page of the records a revert left as they were, and how many there are."""
    query = sa.select(ImportRevertConflict).where(ImportRevertConflict.job_id == code)
    rows, total = page_rows(session, query, [ImportRevertConflict.id], page, per_page)
    items = [
        {"_id": c.target_id, "type": c.kind, "action": c.action, "reason": c.reason} for c in rows
    ]
    return items, total
