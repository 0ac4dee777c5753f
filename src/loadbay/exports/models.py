"""Export-log entries and export configs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from loadbay.db import Base, created_column, id_column, updated_column


class ExportLog(Base):
    __tablename__ = "export_logs"
    __table_args__ = (
        sa.Index("ix_export_logs_org_request", "organization_id", "request_at"),
        sa.Index("ix_export_logs_status", "status", "lease_expires"),
    )
    id: Mapped[str] = id_column()
    organization_id: Mapped[str] = mapped_column(sa.String(24))
    report_type: Mapped[str] = mapped_column(sa.String(20))  # task | datasource
    data_type: Mapped[str | None] = mapped_column(sa.String(24))  # data type id or flow ids
    data_name: Mapped[str | None] = mapped_column(sa.String(500))
    file_type: Mapped[str] = mapped_column(sa.String(10))  # xlsx | csv | zip
    status: Mapped[str] = mapped_column(sa.String(12), default="Processing")
    file_key: Mapped[str | None] = mapped_column(sa.String(500))
    total: Mapped[int] = mapped_column(default=0)
    last_id: Mapped[str | None] = mapped_column(sa.String(24))
    last_field: Mapped[str | None] = mapped_column(sa.String(200))
    error: Mapped[str | None] = mapped_column(sa.Text())
    params: Mapped[dict[str, Any]] = mapped_column()
    email: Mapped[str] = mapped_column(sa.String(320))
    background: Mapped[bool] = mapped_column(default=False)
    request_at: Mapped[datetime] = created_column()
    completed_at: Mapped[datetime | None] = mapped_column()
    # The worker writing the file holds a lease it renews; the sweeper re-enqueues an
    # export whose lease ran out (its worker died) so accepted work is never lost.
    lease_owner: Mapped[str | None] = mapped_column(sa.String(64))
    lease_expires: Mapped[datetime | None] = mapped_column()
    attempts: Mapped[int] = mapped_column(default=0, server_default=sa.text("0"))


class ExportConfig(Base):
    __tablename__ = "export_configs"
    __table_args__ = (sa.Index("ix_export_configs_org", "organization_id"),)
    id: Mapped[str] = id_column()
    organization_id: Mapped[str] = mapped_column(sa.String(24))
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str | None] = mapped_column(sa.Text())
    collection: Mapped[str] = mapped_column(sa.String(50), default="task")
    flow_ids: Mapped[list[str]] = mapped_column(sa.JSON(), default=list)
    data_type_id: Mapped[str | None] = mapped_column(sa.String(24))
    fields: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON())
    created_by: Mapped[str | None] = mapped_column(sa.String(320))
    created_time: Mapped[datetime] = created_column()
    updated_time: Mapped[datetime] = updated_column()
