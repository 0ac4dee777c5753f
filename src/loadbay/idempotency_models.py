"""The `Idempotency-Key` table: one row per (organisation, key), kept 24 hours."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from loadbay.db import Base, created_column


class IdempotencyKey(Base):
    """Written in the transaction that creates the request's job, so a key never names a
    job that was rolled back, and a second request with the key cannot create another
    (the primary key turns it away). The answer is stored once it is made."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (sa.Index("ix_idempotency_keys_expires", "expires_at"),)
    organization_id: Mapped[str] = mapped_column(sa.String(24), primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    endpoint: Mapped[str] = mapped_column(sa.String(100))
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    resource_id: Mapped[str | None] = mapped_column(sa.String(24))
    status_code: Mapped[int | None] = mapped_column()
    response: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON(none_as_null=True))
    created_time: Mapped[datetime] = created_column()
    expires_at: Mapped[datetime] = mapped_column()
