"""`Idempotency-Key` on the POSTs that create an import or an export (issue 13 item 4).

The same key from the same organisation within 24 hours answers the first request's
answer (status and body) and creates nothing; the same key with another request → 409
`request-031`. The key's row is inserted in the transaction that creates the job, so
two requests racing with one key cannot both create one: the primary key turns the
second away, and it answers the first's result instead.

A route wraps its handler in `idempotent`; the handler's synchronous part names its
request (`claim`, once the body is read: an upload is hashed while it streams) and
writes the key with its job (`record`, inside the job's transaction).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
import sqlalchemy as sa
from fastapi import Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from loadbay.db import get_database
from loadbay.errors import BadRequest, Conflict
from loadbay.idempotency_models import IdempotencyKey
from loadbay.ids import utcnow
from loadbay.responses import JsonResponse

log = logging.getLogger("loadbay.idempotency")
HEADER = "Idempotency-Key"
TTL = timedelta(hours=24)
WAIT_SECONDS = 30.0  # how long a retry waits for the first request's answer
MAX_KEY = 255


@dataclass
class Pending:
    org: str
    key: str
    endpoint: str
    request_hash: str | None = None
    resource_id: str | None = None


class Replay(Exception):
    def __init__(self, status_code: int, body: dict[str, Any]) -> None:
        super().__init__("replay")
        self.status_code, self.body = status_code, body


_current: ContextVar[Pending | None] = ContextVar("loadbay_idempotency", default=None)


def request_hash(*parts: Any) -> str:
    """A stable hash of a request's meaning (JSON-able parts, key order ignored)."""
    return hashlib.sha256(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS)).hexdigest()


def claim(request_digest: str) -> None:
    """Name the current request (no-op without a key); answers the first request's result
    by raising `Replay`, or 409 when the key was used for another request."""
    pending = _current.get()
    if pending is None:
        return
    pending.request_hash = request_hash(pending.endpoint, request_digest)
    _answer_existing(pending)


def record(session: Session, resource_id: str) -> None:
    """Inside the transaction that creates `resource_id`: the key's row commits with it."""
    pending = _current.get()
    if pending is None or pending.request_hash is None:
        return
    if not resource_id:
        raise ValueError("record() needs the created resource's id (flush first)")
    now = utcnow()
    session.execute(  # an expired row with this key gives way to the new request
        sa.delete(IdempotencyKey).where(
            IdempotencyKey.organization_id == pending.org,
            IdempotencyKey.key == pending.key,
            IdempotencyKey.expires_at <= now,
        )
    )
    session.add(
        IdempotencyKey(
            organization_id=pending.org,
            key=pending.key,
            endpoint=pending.endpoint,
            request_hash=pending.request_hash,
            resource_id=resource_id,
            created_time=now,
            expires_at=now + TTL,
        )
    )
    session.flush()  # a concurrent request's row shows here, before the job's work goes on
    pending.resource_id = resource_id


async def idempotent(
    request: Request,
    org: str,
    endpoint: str,
    status_code: int,
    handler: Callable[[], Awaitable[Any]],
) -> Any:
    """Run `handler` once per (organisation, key); a repeat gets the first answer."""
    key = request.headers.get(HEADER)
    if key is None:
        return await handler()
    if not 1 <= len(key) <= MAX_KEY or not key.isascii() or not key.isprintable():
        raise BadRequest(
            "request-003", f"{HEADER} must be 1 to {MAX_KEY} printable ASCII characters"
        )
    pending = Pending(org, key, endpoint)
    token = _current.set(pending)
    try:
        body = await handler()
    except Replay as replay:
        return JsonResponse(replay.body, status_code=replay.status_code)
    except sa.exc.IntegrityError:
        if pending.request_hash is None:
            raise
        # Lost the race for the key: the other request's job is the one; answer it.
        try:
            await run_in_threadpool(_answer_existing, pending)
        except Replay as replay:
            return JsonResponse(replay.body, status_code=replay.status_code)
        raise
    except BaseException:
        if pending.resource_id is not None:  # the job exists but its answer failed
            await run_in_threadpool(_forget, pending)
        raise
    finally:
        _current.reset(token)
    if pending.resource_id is not None:
        await run_in_threadpool(_store, pending, status_code, body)
    return body


def _find(pending: Pending) -> IdempotencyKey | None:
    with get_database().read() as session:
        row = session.get(IdempotencyKey, (pending.org, pending.key))
        if row is None or row.expires_at <= utcnow():
            return None
        session.expunge(row)
        return row


def _answer_existing(pending: Pending) -> None:
    """Raise the answer of an earlier request with this key; return when there is none."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        row = _find(pending)
        if row is None:
            return
        if row.request_hash != pending.request_hash:
            raise Conflict(
                "request-031",
                f"{HEADER} '{pending.key}' was already used for a different request "
                f"({row.endpoint}) in the last 24 hours; use a new key for a new request",
            )
        if row.response is not None and row.status_code is not None:
            raise Replay(row.status_code, row.response)
        if time.monotonic() >= deadline:
            raise Conflict(
                "request-031",
                f"A request with {HEADER} '{pending.key}' is still being processed; "
                "retry it shortly to get its answer",
            )
        time.sleep(0.05)  # the first request commits its answer a moment after its job


def _store(pending: Pending, status_code: int, body: Any) -> None:
    content = orjson.loads(orjson.dumps(body))  # exactly what the client was sent
    with get_database().write() as session:
        session.execute(
            sa.update(IdempotencyKey)
            .where(
                IdempotencyKey.organization_id == pending.org,
                IdempotencyKey.key == pending.key,
                IdempotencyKey.resource_id == pending.resource_id,
            )
            .values(status_code=status_code, response=content)
        )


def _forget(pending: Pending) -> None:
    """The job was made but the request failed after: a retry runs it again."""
    try:
        with get_database().write() as session:
            session.execute(
                sa.delete(IdempotencyKey).where(
                    IdempotencyKey.organization_id == pending.org,
                    IdempotencyKey.key == pending.key,
                    IdempotencyKey.resource_id == pending.resource_id,
                    IdempotencyKey.response.is_(None),
                )
            )
    except Exception:  # the original error matters more; the key expires in 24 h anyway
        log.warning("could not release an idempotency key", exc_info=True)


def purge_expired(now: datetime) -> int:
    with get_database().write() as session:
        result = session.execute(sa.delete(IdempotencyKey).where(IdempotencyKey.expires_at <= now))
        return int(getattr(result, "rowcount", 0) or 0)
