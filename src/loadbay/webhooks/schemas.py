"""The webhook API's bodies: validation of an endpoint, and how endpoints and deliveries show."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import orjson

from loadbay.errors import BadRequest
from loadbay.ids import fmt_iso
from loadbay.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

EVENTS = (
    "import.completed",
    "import.failed",
    "import.cancelled",
    "import.reverted",
    "export.completed",
    "export.failed",
)
TEST_EVENT = "webhook.test"
MAX_URL = 2000
MAX_DESCRIPTION = 1000


def parse_endpoint(payload: Any, *, partial: bool) -> dict[str, Any]:
    """`{url, events, description}` checked field by field; with `partial` (PUT) only the
    fields given. Raises 400 `webhook-001|003|017` naming the field and the reason."""
    if not isinstance(payload, dict):
        raise BadRequest("webhook-003", "The body must be a JSON object")
    unknown = sorted(set(payload) - {"url", "events", "description"})
    if unknown:
        raise BadRequest("webhook-003", f"Unknown field(s): {', '.join(unknown)}")
    out: dict[str, Any] = {}
    for name in ("url", "events"):
        if name not in payload and not partial:
            raise BadRequest("webhook-001", f"{name} is required")
    if "url" in payload:
        out["url"] = check_url(payload["url"])
    if "events" in payload:
        out["events"] = check_events(payload["events"])
    if "description" in payload:
        text = payload["description"]
        if text is not None and not isinstance(text, str):
            raise BadRequest("webhook-003", "description must be a string")
        if text is not None and (len(text) > MAX_DESCRIPTION or "\x00" in text):
            raise BadRequest(
                "webhook-003", f"description must be at most {MAX_DESCRIPTION} characters"
            )
        out["description"] = text or None
    return out


def check_url(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadRequest("webhook-001", "url is required")
    url = value.strip()
    if len(url) > MAX_URL:
        raise BadRequest("webhook-003", f"url must be at most {MAX_URL} characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (a bad port raises here)
    except ValueError as exc:
        raise BadRequest("webhook-003", f"url is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise BadRequest(
            "webhook-003", f"url must start with http:// or https:// (got {parts.scheme or 'none'})"
        )
    if not parts.hostname:
        raise BadRequest("webhook-003", "url must name a host")
    if parts.username or parts.password:
        raise BadRequest("webhook-003", "url must not carry a user name or password")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise BadRequest("webhook-003", "url must not contain spaces or control characters")
    return url


def check_events(value: Any) -> list[str]:
    if not isinstance(value, list) or not value:
        raise BadRequest("webhook-001", f"events must be a non-empty list of: {', '.join(EVENTS)}")
    unknown = [e for e in value if e not in EVENTS]
    if unknown:
        raise BadRequest(
            "webhook-017",
            f"Unknown event(s): {', '.join(map(str, unknown))} (use {', '.join(EVENTS)})",
        )
    return [e for e in EVENTS if e in value]  # the list's order, each once


def endpoint_out(endpoint: WebhookEndpoint, *, with_secret: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "_id": endpoint.id,
        "url": endpoint.url,
        "events": list(endpoint.events),
        "description": endpoint.description,
        "organizationId": endpoint.organization_id,
        "createdBy": endpoint.created_by,
        "createdTime": fmt_iso(endpoint.created_time),
        "updatedTime": fmt_iso(endpoint.updated_time),
    }
    if with_secret:
        out["secret"] = endpoint.secret
    return out


def attempt_out(attempt: WebhookAttempt) -> dict[str, Any]:
    return {
        "attempt": attempt.number,
        "at": fmt_iso(attempt.started_at),
        "statusCode": attempt.status_code,
        "durationMs": attempt.duration_ms,
        "error": attempt.error,
    }


def delivery_out(delivery: WebhookDelivery, attempts: list[WebhookAttempt]) -> dict[str, Any]:
    return {
        "_id": delivery.id,
        "endpointId": delivery.endpoint_id,
        "event": delivery.event_type,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "nextAttemptAt": fmt_iso(delivery.next_attempt_at)
        if delivery.status == "pending"
        else None,
        "deliveredAt": fmt_iso(delivery.delivered_at),
        "lastStatusCode": delivery.last_status_code,
        "lastError": delivery.last_error,
        "createdTime": fmt_iso(delivery.created_time),
        "payload": orjson.loads(delivery.body),
        "attemptLog": [attempt_out(a) for a in attempts],
    }
