"""Webhook endpoints under /api/v3: register, list, change, delete, test-send, and the
delivery log. Managing them needs `admin`; another organisation's id answers 404."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Body, Query, Request

from loadbay.auth import Principal, require
from loadbay.deps import AppDatabase, ReadSession, WriteSession
from loadbay.pagination import ok, paginated
from loadbay.routing import Router
from loadbay.webhooks import delivery, service
from loadbay.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from loadbay.webhooks.schemas import (
    DeliveryQuery,
    WebhookQuery,
    delivery_out,
    endpoint_out,
    parse_endpoint,
)

router = Router()
Admin = Annotated[Principal, require("admin")]
JsonBody = Annotated[Any, Body()]
Answer = dict[str, Any]


@router.post("/webhooks", status_code=201, response_model=None, tags=["webhooks"])
def create_webhook(principal: Admin, session: WriteSession, payload: JsonBody = None) -> Answer:
    """Register an endpoint; the answer carries its signing `secret`, shown only here."""
    fields = parse_endpoint(payload, partial=False)
    endpoint = service.create_endpoint(session, principal.org, principal.email, fields)
    return ok(endpoint_out(endpoint, with_secret=True))


@router.get("/webhooks", response_model=None, tags=["webhooks"])
def list_webhooks(
    request: Request,
    principal: Admin,
    session: ReadSession,
    params: Annotated[WebhookQuery, Query()],
) -> Answer:
    number, size = params.page, params.limit
    query = sa.select(WebhookEndpoint).where(WebhookEndpoint.organization_id == principal.org)
    order = [WebhookEndpoint.created_time.desc(), WebhookEndpoint.id.desc()]

    def render(rows: list[WebhookEndpoint]) -> list[Any]:
        return [endpoint_out(e) for e in rows]

    return ok(paginated(request, session, query, order, number, size, render))


@router.get("/webhooks/{endpoint_id}", response_model=None, tags=["webhooks"])
def get_webhook(endpoint_id: str, principal: Admin, session: ReadSession) -> Answer:
    return ok(endpoint_out(service.get_endpoint(session, principal.org, endpoint_id)))


@router.put("/webhooks/{endpoint_id}", response_model=None, tags=["webhooks"])
def update_webhook(
    endpoint_id: str, principal: Admin, session: WriteSession, payload: JsonBody = None
) -> Answer:
    """Change `url`, `events` or `description` (those given); the secret stays."""
    fields = parse_endpoint(payload, partial=True)
    return ok(endpoint_out(service.update_endpoint(session, principal.org, endpoint_id, fields)))


@router.delete("/webhooks/{endpoint_id}", response_model=None, tags=["webhooks"])
def delete_webhook(endpoint_id: str, principal: Admin, session: WriteSession) -> Answer:
    """Remove the endpoint with its delivery log; pending deliveries are not sent."""
    return ok(endpoint_out(service.delete_endpoint(session, principal.org, endpoint_id)))


@router.post("/webhooks/{endpoint_id}/test", response_model=None, tags=["webhooks"])
def test_webhook(endpoint_id: str, principal: Admin, db: AppDatabase) -> Answer:
    """Send a signed `webhook.test` event now and answer with its delivery record
    (status, status code, time taken). A test is sent once, never retried."""
    with db.write() as session:
        endpoint = service.get_endpoint(session, principal.org, endpoint_id)
        delivery_id = service.add_test_delivery(session, endpoint)
    delivery.attempt(delivery_id, retry=False)
    with db.read() as session:
        return ok(_delivery_view(session, delivery_id))


@router.get("/webhooks/{endpoint_id}/deliveries", response_model=None, tags=["webhooks"])
def list_deliveries(
    endpoint_id: str,
    request: Request,
    principal: Admin,
    session: ReadSession,
    params: Annotated[DeliveryQuery, Query()],
) -> Answer:
    """The delivery log, newest first: each delivery with its payload and every attempt
    (time, status code, duration, error). `status`: pending, delivered or failed."""
    number, size = params.page, params.limit
    endpoint = service.get_endpoint(session, principal.org, endpoint_id)
    query = sa.select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
    status = params.status_filter()
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    order = [WebhookDelivery.created_time.desc(), WebhookDelivery.id.desc()]

    def render(rows: list[WebhookDelivery]) -> list[Any]:
        attempts = _attempts_of(session, [d.id for d in rows])
        return [delivery_out(d, attempts.get(d.id, [])) for d in rows]

    return ok(paginated(request, session, query, order, number, size, render))


def _attempts_of(session: Any, ids: list[str]) -> dict[str, list[WebhookAttempt]]:
    out: dict[str, list[WebhookAttempt]] = {}
    if not ids:
        return out
    found = session.scalars(
        sa.select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id.in_(ids))
        .order_by(WebhookAttempt.delivery_id, WebhookAttempt.number)
    ).all()
    for attempt in found:
        out.setdefault(attempt.delivery_id, []).append(attempt)
    return out


def _delivery_view(session: Any, delivery_id: str) -> Answer:
    found = session.get(WebhookDelivery, delivery_id)
    return delivery_out(found, _attempts_of(session, [delivery_id]).get(delivery_id, []))
