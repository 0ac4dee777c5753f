"""Which chunk a worker takes next: fair shares between organisations.

A chunk's queue message only says "there is work"; the claim (`state.claim_chunk`)
decides which chunk, from the database. It prefers the organisation with the fewest
chunks in flight, then the one served least recently, then, within it, the job with
the fewest in flight (then served least recently, then the oldest), then that job's
first waiting chunk. So one organisation's million-row import cannot hold back
another's small one, whatever order their messages are queued in.

An organisation at its cap (its `maxConcurrentChunks` setting, else
`LOADBAY_MAX_CONCURRENT_CHUNKS_PER_ORG`; 0 is no cap) is passed over: its chunks stay
waiting, and each of its chunks that ends enqueues a message for the next one (see
`pipeline.run_chunk`), so a message that found only capped work is not a chunk lost.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loadbay.catalog.models import Organization
from loadbay.db import table_of
from loadbay.imports.models import ImportChunk, ImportJob
from loadbay.settings import get_settings

jobs = table_of(ImportJob)
chunks = table_of(ImportChunk)
NEVER = datetime.min


@dataclass(frozen=True)
class JobWork:
    """One job whose chunks are being handed out, as a claim sees it."""

    job_id: str
    org: str
    created: datetime
    busy: int  # chunks in flight (leased, lease not run out)
    waiting: int  # chunks a claim may take now
    unclaimed: int  # waiting chunks no worker held lately (those a lost message leaves)
    last_claim: datetime | None  # when one of its chunks was last claimed
    last_done: datetime | None  # when one of its chunks was last written


def snapshot(session: Session, now: datetime, max_attempts: int) -> list[JobWork]:
    """The jobs with chunks to hand out: planning (chunks are handed out while the file
    is read) or running. Reads each such job's chunks once, done ones too (the last
    claim of a job may be a chunk already done)."""
    leased = chunks.c.lease_owner.is_not(None)
    pending = chunks.c.state == "pending"
    in_flight = sa.and_(pending, leased, chunks.c.lease_expires >= now)
    is_open = sa.or_(chunks.c.lease_owner.is_(None), chunks.c.lease_expires < now)
    waiting = sa.and_(pending, chunks.c.attempts < max_attempts, is_open)
    unclaimed = sa.and_(pending, chunks.c.lease_owner.is_(None), chunks.c.lease_expires < now)

    def count(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
        return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)

    rows = session.execute(
        sa.select(
            jobs.c.id,
            jobs.c.organization_id,
            jobs.c.created_time,
            count(in_flight),
            count(waiting),
            count(unclaimed),
            sa.func.max(chunks.c.claimed_at),
            sa.func.max(chunks.c.done_time),
        )
        .select_from(jobs.join(chunks, chunks.c.job_id == jobs.c.id))
        .where(jobs.c.phase.in_(("planning", "running")))
        .group_by(jobs.c.id, jobs.c.organization_id, jobs.c.created_time)
    ).all()
    return [JobWork(r[0], r[1], r[2], int(r[3]), int(r[4]), int(r[5]), r[6], r[7]) for r in rows]


def caps(session: Session, orgs: Iterable[str]) -> dict[str, int]:
    """Each organisation's cap on chunks in flight (0: none)."""
    default = get_settings().max_concurrent_chunks_per_org
    wanted = sorted(set(orgs))
    if not wanted:
        return {}
    found = {org: default for org in wanted}
    for org, settings in session.execute(
        sa.select(Organization.id, Organization.settings).where(Organization.id.in_(wanted))
    ):
        own = (settings or {}).get("maxConcurrentChunks")
        if isinstance(own, int) and own > 0:
            found[org] = own
    return found


def _by_org(work: list[JobWork]) -> dict[str, list[JobWork]]:
    grouped: dict[str, list[JobWork]] = defaultdict(list)
    for job in work:
        grouped[job.org].append(job)
    return grouped


def pick(work: list[JobWork], limits: dict[str, int]) -> JobWork | None:
    """The job whose chunk is claimed next, or None (nothing waits, or only work of
    organisations at their cap)."""
    best: tuple[tuple[int, datetime, datetime, str], list[JobWork]] | None = None
    for org, its in _by_org(work).items():
        ready = [j for j in its if j.waiting]
        busy = sum(j.busy for j in its)
        cap = limits.get(org, 0)
        if not ready or (cap and busy >= cap):
            continue
        last = max((j.last_claim for j in its if j.last_claim), default=NEVER)
        key = (busy, last, min(j.created for j in ready), org)
        if best is None or key < best[0]:
            best = (key, ready)
    if best is None:
        return None
    return min(best[1], key=lambda j: (j.busy, j.last_claim or NEVER, j.created, j.job_id))


def unclaimed(work: list[JobWork], limits: dict[str, int], moving_since: datetime) -> int:
    """Waiting chunks that a queue message should stand for: all of an organisation's,
    but under a cap no more than the cap leaves room for, and none while its chunks
    still move (one claimed or written since `moving_since`): those wait for its chunks
    in flight to end and send a message on, and a sweep that looked between a chunk's
    end and its message must not take them for lost."""
    total = 0
    for org, its in _by_org(work).items():
        count = sum(j.unclaimed for j in its)
        cap = limits.get(org, 0)
        if cap:
            moved = max(
                (t for j in its for t in (j.last_claim, j.last_done) if t is not None),
                default=NEVER,
            )
            room = max(cap - sum(j.busy for j in its), 0)
            count = 0 if moved >= moving_since else min(count, room)
        total += count
    return total
