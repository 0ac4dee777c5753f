"""Organisations, hubs, flows, data types, data-source records and tasks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from loadbay.db import Base, created_column, id_column, updated_column


class Organization(Base):
    __tablename__ = "organizations"
    id: Mapped[str] = id_column()
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    created_time: Mapped[datetime] = created_column()
    # `/organization/settings`: locale rules and limits; null until an admin sets them.
    settings: Mapped[dict[str, Any] | None] = mapped_column(
        sa.JSON(none_as_null=True), nullable=True
    )


class Hub(Base):
    __tablename__ = "hubs"
    __table_args__ = (sa.Index("ix_hubs_org_name", "organization_id", "name"),)
    id: Mapped[str] = id_column()
    organization_id: Mapped[str] = mapped_column(sa.ForeignKey("organizations.id"))
    name: Mapped[str] = mapped_column(sa.String(200))
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_time: Mapped[datetime] = created_column()
    updated_time: Mapped[datetime] = updated_column()


class Flow(Base):
    """A flow defines the custom fields of its tasks (`fields` as data-type fields)."""

    __tablename__ = "flows"
    __table_args__ = (sa.Index("ix_flows_org_name", "organization_id", "name"),)
    id: Mapped[str] = id_column()
    organization_id: Mapped[str] = mapped_column(sa.ForeignKey("organizations.id"))
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str | None] = mapped_column(sa.Text())
    fields: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON())
    created_time: Mapped[datetime] = created_column()
    updated_time: Mapped[datetime] = updated_column()


class DataType(Base):
    __tablename__ = "data_types"
    __table_args__ = (sa.Index("ix_data_types_org_name", "organization_id", "name"),)
    id: Mapped[str] = id_column()
    organization_id: Mapped[str] = mapped_column(sa.ForeignKey("organizations.id"))
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str | None] = mapped_column(sa.Text())
    common_data: Mapped[bool] = mapped_column(default=False)
    fields: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON())
    created_by: Mapped[str | None] = mapped_column(sa.String(320))
    created_time: Mapped[datetime] = created_column()
    updated_time: Mapped[datetime] = updated_column()


class Record(Base):
    """A data-source record. `scope` is the hub id, or '' when the type is commonData,
    so the unique index works (NULLs are distinct in unique indexes).

    The indexes lead with `data_type_id`, not the organisation: a data type belongs to
    one organisation, and every key column less makes a bulk insert cheaper (measured:
    the two 4-column text indexes cost more than the table itself on SQLite)."""

    __tablename__ = "records"
    __table_args__ = (
        sa.UniqueConstraint("data_type_id", "scope", "data_id", name="uq_records_key"),
        sa.Index("ix_records_export", "data_type_id", "created_time", "id"),
    )
    id: Mapped[str] = id_column()
    organization_id: Mapped[str] = mapped_column(sa.String(24))
    data_type_id: Mapped[str] = mapped_column(sa.String(24))
    hub_id: Mapped[str | None] = mapped_column(sa.String(24))
    scope: Mapped[str] = mapped_column(sa.String(24), default="")
    data_id: Mapped[str] = mapped_column(sa.String(255))
    data: Mapped[dict[str, Any]] = mapped_column()
    created_by: Mapped[str | None] = mapped_column(sa.String(320))
    updated_by: Mapped[str | None] = mapped_column(sa.String(320))
    created_time: Mapped[datetime] = created_column()
    updated_time: Mapped[datetime] = updated_column()
    last_import_id: Mapped[str | None] = mapped_column(
        sa.String(24)
    )  # the import that last wrote it


# A task's status; the one list every check, template and export filter uses.
TASK_STATUSES = ("UNASSIGNED", "ONGOING", "DONE")


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (
        sa.Index("ix_tasks_export", "organization_id", "created_time", "id"),
        sa.Index("ix_tasks_flow", "organization_id", "flow_id"),
    )
    id: Mapped[str] = id_column()
    organization_id: Mapped[str] = mapped_column(sa.String(24))
    flow_id: Mapped[str] = mapped_column(sa.String(24))
    hub_id: Mapped[str | None] = mapped_column(sa.String(24))
    title: Mapped[str | None] = mapped_column(sa.Text())
    status: Mapped[str] = mapped_column(sa.String(20), default="UNASSIGNED")
    assignee: Mapped[str | None] = mapped_column(sa.String(320))
    start_time: Mapped[datetime | None] = mapped_column()
    end_time: Mapped[datetime | None] = mapped_column()
    done_by: Mapped[str | None] = mapped_column(sa.String(320))
    done_time: Mapped[datetime | None] = mapped_column()
    data: Mapped[dict[str, Any]] = mapped_column()
    created_by: Mapped[str | None] = mapped_column(sa.String(320))
    created_time: Mapped[datetime] = created_column()
    updated_time: Mapped[datetime] = updated_column()
    last_import_id: Mapped[str | None] = mapped_column(
        sa.String(24)
    )  # the import that last wrote it
