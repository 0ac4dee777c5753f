"""Webhook endpoints of an organisation, their deliveries (the outbox) and each attempt."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from loadbay.db import Base, JsonType, created_column, id_column, updated_column


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"
    __table_args__ = (sa.Index("ix_webhook_endpoints_org", "organization_id", "created_time"),)
    id: Mapped[str] = id_column()
    organization_id: Mapped[str] = mapped_column(sa.String(24))
    url: Mapped[str] = mapped_column(sa.Text())
    events: Mapped[list[str]] = mapped_column(JsonType)
    description: Mapped[str | None] = mapped_column(sa.Text())
    # Kept in clear: every delivery is signed with it. Shown only in the create answer.
    secret: Mapped[str] = mapped_column(sa.String(80))
    created_by: Mapped[str | None] = mapped_column(sa.String(320))
    created_time: Mapped[datetime] = created_column()
    updated_time: Mapped[datetime] = updated_column()


class WebhookDelivery(Base):
    """One event for one endpoint, written in the transaction that made the event, so a
    crash can neither lose it nor send one for a change that did not commit.

    `body` is the exact JSON sent (and signed) on every attempt; its `id` is this row's."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        sa.Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        sa.Index("ix_webhook_deliveries_endpoint", "endpoint_id", "created_time"),
    )
    id: Mapped[str] = id_column()
    organization_id: Mapped[str] = mapped_column(sa.String(24))
    endpoint_id: Mapped[str] = mapped_column(
        sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    event_type: Mapped[str] = mapped_column(sa.String(40))
    body: Mapped[str] = mapped_column(sa.Text())
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0, server_default=sa.text("0"))
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    lease_owner: Mapped[str | None] = mapped_column(sa.String(64))
    lease_expires: Mapped[datetime | None] = mapped_column()
    last_status_code: Mapped[int | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(sa.Text())
    delivered_at: Mapped[datetime | None] = mapped_column()
    created_time: Mapped[datetime] = created_column()
    updated_time: Mapped[datetime] = updated_column()


class WebhookAttempt(Base):
    __tablename__ = "webhook_attempts"
    __table_args__ = (sa.Index("ix_webhook_attempts_delivery", "delivery_id", "number"),)
    id: Mapped[str] = id_column()
    delivery_id: Mapped[str] = mapped_column(
        sa.ForeignKey("webhook_deliveries.id", ondelete="CASCADE")
    )
    number: Mapped[int] = mapped_column()
    started_at: Mapped[datetime] = mapped_column()
    status_code: Mapped[int | None] = mapped_column()
    duration_ms: Mapped[int] = mapped_column()
    error: Mapped[str | None] = mapped_column(sa.Text())
