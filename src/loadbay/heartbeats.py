"""Worker heartbeats: one row per worker process, so the API can tell whether work moves.

A row says the process lives (`last_seen`, written every `worker_heartbeat_seconds`) and
when it last started a task (`last_task_at`). `/readyz` reads them: no row seen within
three beats means no worker is alive; tasks waiting while no worker started one for
`queue_stall_seconds` means the queue is not moving. A database row (not a queue key)
works the same on every queue backend and is seen by every API process.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from loadbay.db import Base, Database, rowcount
from loadbay.ids import HOST, utcnow
from loadbay.settings import Settings

log = logging.getLogger("loadbay.worker")


class WorkerBeat(Base):
    __tablename__ = "worker_heartbeats"
    id: Mapped[str] = mapped_column(sa.String(100), primary_key=True)  # host:pid
    started_at: Mapped[datetime] = mapped_column()
    last_seen: Mapped[datetime] = mapped_column(index=True)
    last_task_at: Mapped[datetime | None] = mapped_column()


def worker_id() -> str:
    return f"{HOST}:{os.getpid()}"


def beat(db: Database, wid: str, started: datetime, task_at: datetime | None) -> None:
    now = utcnow()
    values: dict[str, object] = {"last_seen": now}
    if task_at is not None:
        values["last_task_at"] = task_at
    with db.write() as session:
        if not rowcount(
            session.execute(sa.update(WorkerBeat).where(WorkerBeat.id == wid).values(**values))
        ):
            session.add(WorkerBeat(id=wid, started_at=started, last_seen=now, last_task_at=task_at))


def forget(db: Database, wid: str) -> None:
    """A worker that stops cleanly takes its row with it."""
    with db.write() as session:
        session.execute(sa.delete(WorkerBeat).where(WorkerBeat.id == wid))


def not_ready(db: Database, settings: Settings, waiting: int) -> str | None:
    """Why the service cannot do queued work now, or None when it can.

    `waiting` is the queue's depth (-1 when the queue cannot answer)."""
    now = utcnow()
    fresh = now - timedelta(seconds=3 * settings.worker_heartbeat_seconds)
    with db.read() as session:
        alive, last_task = session.execute(
            sa.select(sa.func.count(), sa.func.max(WorkerBeat.last_task_at)).where(
                WorkerBeat.last_seen >= fresh
            )
        ).one()
        started = session.scalar(
            sa.select(sa.func.min(WorkerBeat.started_at)).where(WorkerBeat.last_seen >= fresh)
        )
    if waiting < 0:
        return "queue unreachable"
    if not alive:
        return (
            f"no worker alive: none has reported in the last {int((now - fresh).total_seconds())} s"
        )
    since = last_task or started
    idle = (now - since).total_seconds() if since is not None else 0.0
    if waiting > 0 and idle > settings.queue_stall_seconds:
        return f"queue not moving: {waiting} tasks waiting, none started for {int(idle)} s"
    return None
