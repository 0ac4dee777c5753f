"""Console sign-in state: sessions (so sign-out really ends one) and used sign-in links."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from loadbay.db import Base, JsonType, created_column


class ConsoleSession(Base):
    """A signed-in browser. The cookie carries this id, signed; the row says who and
    until when, so sign-out (or expiry) ends it even if the cookie was copied."""

    __tablename__ = "console_sessions"
    __table_args__ = (sa.Index("ix_console_sessions_expires", "expires_at"),)
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    organization_id: Mapped[str] = mapped_column(sa.String(24))
    email: Mapped[str] = mapped_column(sa.String(320))
    perms: Mapped[list[str]] = mapped_column(JsonType)
    csrf: Mapped[str] = mapped_column(sa.String(64))
    created_time: Mapped[datetime] = created_column()
    expires_at: Mapped[datetime] = mapped_column(sa.DateTime())
    ended_at: Mapped[datetime | None] = mapped_column(sa.DateTime())


class ConsoleLinkUse(Base):
    """The `jti` of each one-time sign-in link once it has been used: a second use of the
    same link hits the primary key."""

    __tablename__ = "console_link_uses"
    jti: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    organization_id: Mapped[str] = mapped_column(sa.String(24))
    used_at: Mapped[datetime] = created_column()
    expires_at: Mapped[datetime] = mapped_column(sa.DateTime())
