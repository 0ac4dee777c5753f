"""Webhook endpoints (CRUD) and the outbox: `record_event` writes one delivery per
subscribed endpoint in the caller's transaction; the delivery task is enqueued only once
that transaction has committed. Services never commit."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from loadbay.errors import NotFound
from loadbay.ids import fmt_iso, new_id, utcnow
from loadbay.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from loadbay.webhooks.schemas import TEST_EVENT

log = logging.getLogger("loadbay.webhooks")
_PENDING = "webhook_deliveries"  # Session.info key: deliveries to enqueue after commit

EventData = Mapping[str, Any] | Callable[[], Mapping[str, Any]]


# ---- the outbox --------------------------------------------------------------------------


def record_event(session: Session, org_id: str, event_type: str, data: EventData) -> list[str]:
    """Write a delivery of `event_type` for every endpoint of `org_id` subscribed to it,
    inside the caller's transaction; their tasks are enqueued after it commits (and
    dropped with it on rollback). `data` may be a callable, rendered only when some
    endpoint wants the event. Never raises: a webhook must not fail the job."""
    try:
        with session.begin_nested():
            endpoints = session.scalars(
                sa.select(WebhookEndpoint).where(WebhookEndpoint.organization_id == org_id)
            ).all()
            wanted = [e for e in endpoints if event_type in (e.events or ())]
            if not wanted:
                return []
            payload = dict(data() if callable(data) else data)
            ids = [_add_delivery(session, e, event_type, payload) for e in wanted]
            session.flush()
    except Exception:
        log.exception("webhook event not recorded", extra={"org": org_id, "event": event_type})
        return []
    session.info.setdefault(_PENDING, []).extend(ids)
    return ids


def _add_delivery(
    session: Session, endpoint: WebhookEndpoint, event_type: str, data: Mapping[str, Any]
) -> str:
    now = utcnow()
    delivery_id = new_id()
    body = {"id": delivery_id, "type": event_type, "createdAt": fmt_iso(now), "data": data}
    session.add(
        WebhookDelivery(
            id=delivery_id,
            organization_id=endpoint.organization_id,
            endpoint_id=endpoint.id,
            event_type=event_type,
            body=orjson.dumps(body).decode(),
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_time=now,
            updated_time=now,
        )
    )
    return delivery_id


@event.listens_for(Session, "after_commit")
def _enqueue_after_commit(session: Session) -> None:
    ids = session.info.pop(_PENDING, None)
    if not ids:
        return
    from loadbay.webhooks.tasks import enqueue_delivery

    for delivery_id in ids:
        try:
            enqueue_delivery(delivery_id)
        except Exception:  # the queue is away: the sweeper's due pass sends it later
            log.exception("webhook delivery not enqueued", extra={"delivery": delivery_id})


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    if not session.in_nested_transaction():
        session.info.pop(_PENDING, None)


# ---- endpoints ---------------------------------------------------------------------------


def new_secret() -> str:
    return "whsec_" + secrets.token_hex(24)


def get_endpoint(session: Session, org: str, endpoint_id: str) -> WebhookEndpoint:
    found = session.get(WebhookEndpoint, endpoint_id) if 0 < len(endpoint_id) <= 64 else None
    if found is None or found.organization_id != org:  # another org's id reads as unknown
        raise NotFound("webhook-033", f"Webhook {endpoint_id} not found")
    return found


def create_endpoint(
    session: Session, org: str, email: str, fields: dict[str, Any]
) -> WebhookEndpoint:
    endpoint = WebhookEndpoint(
        organization_id=org,
        url=fields["url"],
        events=fields["events"],
        description=fields.get("description"),
        secret=new_secret(),
        created_by=email,
    )
    session.add(endpoint)
    session.flush()
    return endpoint


def update_endpoint(
    session: Session, org: str, endpoint_id: str, fields: dict[str, Any]
) -> WebhookEndpoint:
    endpoint = get_endpoint(session, org, endpoint_id)
    for name, value in fields.items():
        setattr(endpoint, name, value)
    endpoint.updated_time = utcnow()
    session.flush()
    return endpoint


def delete_endpoint(session: Session, org: str, endpoint_id: str) -> WebhookEndpoint:
    endpoint = get_endpoint(session, org, endpoint_id)
    # Explicit, not only ON DELETE CASCADE: SQLite enforces it only with foreign_keys on.
    deliveries = sa.select(WebhookDelivery.id).where(WebhookDelivery.endpoint_id == endpoint.id)
    session.execute(sa.delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(deliveries)))
    session.execute(sa.delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id))
    session.delete(endpoint)
    session.flush()
    return endpoint


def add_test_delivery(session: Session, endpoint: WebhookEndpoint) -> str:
    """A `webhook.test` delivery to this endpoint alone, sent once (never retried)."""
    data = {
        "_id": endpoint.id,
        "url": endpoint.url,
        "events": list(endpoint.events),
        "message": "A test event from loadbay: this endpoint receives and verifies webhooks.",
    }
    delivery_id = _add_delivery(session, endpoint, TEST_EVENT, data)
    session.flush()
    return delivery_id
