"""One attempt at a delivery: claim it, POST it signed, record the answer, plan the next.

The HTTP call happens outside any transaction, and the claim (a lease) keeps two workers
(a scheduled retry and the sweeper's re-enqueue) from sending the same attempt twice."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from loadbay import __version__
from loadbay.db import get_database, rowcount
from loadbay.ids import new_owner, utcnow
from loadbay.settings import get_settings
from loadbay.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

log = logging.getLogger("loadbay.webhooks")
MAX_ERROR = 500  # characters of an error (or of a non-2xx answer) kept in the log
LEASE_MARGIN = 30.0  # seconds beyond the HTTP timeout a claim lasts


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `Loadbay-Signature` header: HMAC-SHA256 of "<t>.<raw body>" with the secret."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not a delivery: the receiver's URL should be the final one
    (and following it could send the signed body somewhere unintended)."""

    def redirect_request(self, *_args: object, **_kwargs: object) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect())


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Outcome:
    if not url.startswith(("http://", "https://")):  # checked on save; never file: here
        return Outcome(None, "The URL is not http or https", 0)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    started = time.perf_counter()
    status: int | None = None
    error: str | None = None
    try:
        with _opener.open(request, timeout=timeout) as answer:
            status = int(answer.status)
            answer.read(64 * 1024)
    except urllib.error.HTTPError as exc:
        status = exc.code
        text = exc.read(MAX_ERROR).decode("utf-8", "replace") if exc.fp else ""
        error = f"HTTP {exc.code}" + (f": {text}" if text else "")
    except TimeoutError:
        error = f"Timed out after {timeout:g} s"
    except urllib.error.URLError as exc:
        reason = exc.reason
        error = (
            f"Timed out after {timeout:g} s"
            if isinstance(reason, TimeoutError)
            else f"Could not connect: {reason}"
        )
    except Exception as exc:  # a receiver must not break the worker: any failure is logged
        error = f"{type(exc).__name__}: {exc}"
    duration = int((time.perf_counter() - started) * 1000)
    return Outcome(status, error[:MAX_ERROR] if error else None, duration)


def next_delay(attempt: int) -> float:
    """Seconds before the attempt after `attempt` (1-based): the backoff list, its last
    value repeated."""
    delays = get_settings().webhook_backoff_seconds
    return float(delays[min(attempt, len(delays)) - 1])


def attempt(delivery_id: str, *, retry: bool = True) -> float | None:
    """Make the delivery's next attempt if it is due and free; the seconds until the
    following one when it failed and will be retried, else None."""
    settings = get_settings()
    db = get_database()
    owner = new_owner()
    now = utcnow()
    with db.write() as session:
        claimed = rowcount(
            session.execute(
                sa.update(WebhookDelivery)
                .where(
                    WebhookDelivery.id == delivery_id,
                    WebhookDelivery.status == "pending",
                    WebhookDelivery.next_attempt_at <= now,
                    sa.or_(
                        WebhookDelivery.lease_owner.is_(None),
                        WebhookDelivery.lease_expires.is_(None),
                        WebhookDelivery.lease_expires < now,
                    ),
                )
                .values(
                    lease_owner=owner,
                    lease_expires=now
                    + timedelta(seconds=settings.webhook_timeout_seconds + LEASE_MARGIN),
                    attempts=WebhookDelivery.attempts + 1,
                )
            )
        )
        if not claimed:
            return None
        row = session.execute(
            sa.select(
                WebhookDelivery.body,
                WebhookDelivery.event_type,
                WebhookDelivery.attempts,
                WebhookDelivery.created_time,
                WebhookEndpoint.url,
                WebhookEndpoint.secret,
            )
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .where(WebhookDelivery.id == delivery_id)
        ).one()
    body = row.body.encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"loadbay-webhooks/{__version__}",
        "Loadbay-Event": row.event_type,
        "Loadbay-Delivery": delivery_id,
        "Loadbay-Signature": sign(row.secret, int(time.time()), body),
    }
    outcome = post(row.url, body, headers, settings.webhook_timeout_seconds)
    done = utcnow()
    delay: float | None = None
    values: dict[str, object] = {
        "lease_owner": None,
        "lease_expires": None,
        "last_status_code": outcome.status_code,
        "last_error": outcome.error,
        "updated_time": done,
    }
    if outcome.delivered:
        values.update(status="delivered", delivered_at=done)
    else:
        delay = next_delay(row.attempts)
        give_up_at = row.created_time + timedelta(seconds=settings.webhook_retry_seconds)
        if not retry or done + timedelta(seconds=delay) > give_up_at:
            values["status"] = "failed"
            delay = None
        else:
            values["next_attempt_at"] = done + timedelta(seconds=delay)
    with db.write() as session:
        kept = rowcount(
            session.execute(
                sa.update(WebhookDelivery)
                .where(WebhookDelivery.id == delivery_id, WebhookDelivery.lease_owner == owner)
                .values(**values)
            )
        )
        if kept:  # not when the endpoint (and its log) was deleted meanwhile
            session.add(
                WebhookAttempt(
                    delivery_id=delivery_id,
                    number=row.attempts,
                    started_at=now,
                    status_code=outcome.status_code,
                    duration_ms=outcome.duration_ms,
                    error=outcome.error,
                )
            )
    log.info(
        "webhook attempt",
        extra={
            "delivery": delivery_id,
            "attempt": row.attempts,
            "status_code": outcome.status_code,
            "ms": outcome.duration_ms,
            "outcome": values.get("status", "retry"),
        },
    )
    return delay if kept else None
