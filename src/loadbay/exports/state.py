"""The export-log entry's lease state: every claim, renewal, hand-back, attempt and
outcome of a background or direct export (no other module writes `lease_owner`,
`lease_expires` or `attempts` of export_logs). See `imports.state` for the rules of
attempts (DECISIONS, "Attempts").
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from loadbay.db import Database, get_database, rowcount
from loadbay.exports.events import export_event
from loadbay.exports.models import ExportLog
from loadbay.ids import utcnow
from loadbay.leases import lease_seconds
from loadbay.settings import get_settings

# A background export still Processing after this long lost its queue message or worker.
STALE_AFTER = timedelta(hours=6)


def claim(db: Database, log_id: str, owner: str) -> ExportLog | None:
    now = utcnow()
    with db.write() as session:
        claimed = rowcount(
            session.execute(
                sa.update(ExportLog)
                .where(
                    ExportLog.id == log_id,
                    ExportLog.status == "Processing",
                    # one out of attempts is failed by the sweeper, never run again
                    ExportLog.attempts < get_settings().max_attempts,
                    sa.or_(ExportLog.lease_owner.is_(None), ExportLog.lease_expires < now),
                )
                .values(
                    lease_owner=owner,
                    lease_expires=now + timedelta(seconds=lease_seconds()),
                    attempts=ExportLog.attempts + 1,
                )
            )
        )
        if not claimed:
            return None
        entry = session.get(ExportLog, log_id)
        if entry is not None:
            session.expunge(entry)
        return entry


def release(db: Database, log_id: str, owner: str) -> None:
    """Give the lease back, and the attempt with it (a transient outage does not count),
    so the queue's retry can claim the entry at once. The expiry stays a lease ahead: the
    retry waits in the queue's schedule, which the sweeper's count of queued messages
    does not see, and must not look lost meanwhile."""
    with db.write() as session:
        session.execute(
            sa.update(ExportLog)
            .where(ExportLog.id == log_id, ExportLog.lease_owner == owner)
            .values(
                lease_owner=None,
                lease_expires=utcnow() + timedelta(seconds=lease_seconds()),
                attempts=ExportLog.attempts - 1,
            )
        )


def finish(log_id: str, owner: str, **values: Any) -> ExportLog | None:
    """Record the outcome of a Processing entry this claim still holds (None when a
    finished entry or another worker's claim is left as it is)."""
    db = get_database()
    with db.write() as session:
        done = rowcount(
            session.execute(
                sa.update(ExportLog)
                .where(
                    ExportLog.id == log_id,
                    ExportLog.status == "Processing",
                    ExportLog.lease_owner == owner,
                )
                .values(completed_at=utcnow(), lease_owner=None, lease_expires=None, **values)
            )
        )
        if done:  # the webhook's outbox row commits with the status
            export_event(session, log_id)
    if not done:
        return None
    with db.read() as session:
        return session.get(ExportLog, log_id)


def renew(db: Database, log_id: str, owner: str, until: datetime) -> bool:
    with db.write() as session:
        return bool(
            rowcount(
                session.execute(
                    sa.update(ExportLog)
                    .where(ExportLog.id == log_id, ExportLog.lease_owner == owner)
                    .values(lease_expires=until)
                )
            )
        )


def _unclaimed(now: datetime) -> Any:
    """Processing exports no worker holds, older than a lease: queued behind a backlog,
    or their queue message (or the API process of a direct export) was lost."""
    lease = timedelta(seconds=get_settings().lease_seconds)
    return sa.and_(
        ExportLog.status == "Processing",
        ExportLog.lease_owner.is_(None),
        sa.or_(ExportLog.lease_expires.is_(None), ExportLog.lease_expires < now),
        ExportLog.request_at < now - lease,
    )


def count_unclaimed(now: datetime) -> int:
    with get_database().read() as session:
        found = session.scalar(
            sa.select(sa.func.count()).select_from(ExportLog).where(_unclaimed(now))
        )
    return int(found or 0)


def sweep(now: datetime, *, lost: bool) -> list[str]:
    """Fail the exports out of attempts; answers those to re-enqueue: whose worker died
    (their lease ran out), and, when queue messages were lost (`lost`), those no worker
    ever claimed. Each gets a fresh lease first, so one sweep cannot enqueue it twice."""
    later = now + timedelta(seconds=get_settings().lease_seconds)
    limit = get_settings().max_attempts
    dead = sa.and_(
        ExportLog.status == "Processing",
        ExportLog.lease_owner.is_not(None),
        ExportLog.lease_expires < now,
    )
    with get_database().write() as session:
        # Its worker died `limit` times (killed for memory, say): fail it rather than hand
        # it to the next worker again (DECISIONS, "Attempts").
        exhausted = session.scalars(
            sa.update(ExportLog)
            .where(dead, ExportLog.attempts >= limit)
            .values(
                status="Failed",
                completed_at=now,
                lease_owner=None,
                lease_expires=None,
                error=sa.literal("The export was started ")
                + sa.cast(ExportLog.attempts, sa.String)
                + sa.literal(" times without finishing; try a smaller export"),
            )
            .returning(ExportLog.id)
        ).all()
        for log_id in exhausted:
            export_event(session, log_id)
        ids = session.scalars(
            sa.update(ExportLog)
            .where(sa.or_(dead, _unclaimed(now)) if lost else dead, ExportLog.attempts < limit)
            .values(lease_owner=None, lease_expires=later)
            .returning(ExportLog.id)
        ).all()
    return list(ids)


def fail_stale(now: datetime) -> int:
    """Background exports whose worker or queue message was lost end as Failed."""
    with get_database().write() as session:
        stale = session.scalars(
            sa.update(ExportLog)
            .where(
                ExportLog.status == "Processing",
                ExportLog.request_at < now - STALE_AFTER,
                # one a live worker still writes (its lease is fresh) is left to finish,
                # unless it has been at it four times as long: then it never will
                sa.or_(
                    ExportLog.lease_expires.is_(None),
                    ExportLog.lease_expires < now,
                    ExportLog.request_at < now - 4 * STALE_AFTER,
                ),
            )
            .values(status="Failed", completed_at=now, error="The export did not finish in time")
            .returning(ExportLog.id)
        ).all()
        for log_id in stale:
            export_event(session, log_id)
    return len(stale)
