"""Huey tasks of webhook delivery, and the sweeper's pass over deliveries that are due."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa
from huey import crontab

from loadbay.db import get_database
from loadbay.ids import utcnow
from loadbay.queue import huey
from loadbay.settings import get_settings
from loadbay.webhooks import delivery
from loadbay.webhooks.models import WebhookAttempt, WebhookDelivery

log = logging.getLogger("loadbay.webhooks")


@huey.task()
def deliver_task(delivery_id: str) -> None:
    delay = delivery.attempt(delivery_id)
    if delay is not None:
        deliver_task.schedule(args=(delivery_id,), delay=delay)


def enqueue_delivery(delivery_id: str) -> None:
    deliver_task(delivery_id)


def enqueue_due(now: datetime | None = None, overdue: float = 0.0) -> int:
    """Enqueue deliveries that are due and held by nobody: a retry whose scheduled
    message was lost (a queue restart, a worker killed), or a first attempt whose enqueue
    after commit failed. Each is reserved for a lease so the next sweep leaves it to the
    queue meanwhile. `overdue` leaves alone what a scheduled retry is about to take."""
    now = now or utcnow()
    later = now + timedelta(seconds=get_settings().lease_seconds)
    with get_database().write() as session:
        ids = session.scalars(
            sa.update(WebhookDelivery)
            .where(
                WebhookDelivery.status == "pending",
                WebhookDelivery.next_attempt_at <= now - timedelta(seconds=overdue),
                sa.or_(
                    WebhookDelivery.lease_expires.is_(None), WebhookDelivery.lease_expires < now
                ),
            )
            .values(lease_owner=None, lease_expires=later)
            .returning(WebhookDelivery.id)
        ).all()
    for delivery_id in ids:
        enqueue_delivery(delivery_id)
    return len(ids)


def purge_deliveries(now: datetime | None = None) -> int:
    """Delivered and given-up deliveries older than `LOADBAY_RETENTION_DAYS` go, with their
    attempts (the same 30 days as monitoring records and export logs)."""
    before = (now or utcnow()) - timedelta(days=get_settings().retention_days)
    with get_database().write() as session:
        old = sa.select(WebhookDelivery.id).where(
            WebhookDelivery.status.in_(("delivered", "failed")),
            WebhookDelivery.created_time < before,
        )
        session.execute(sa.delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(old)))
        ids = session.scalars(
            sa.delete(WebhookDelivery)
            .where(WebhookDelivery.id.in_(old.scalar_subquery()))
            .returning(WebhookDelivery.id)
        ).all()
    return len(ids)


@huey.periodic_task(crontab(minute="17"))
def purge_deliveries_task() -> None:
    purged = purge_deliveries()
    if purged:
        log.info("webhook deliveries purged", extra={"deliveries": purged})
