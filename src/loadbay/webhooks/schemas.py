"""The webhook API's bodies: validation of an endpoint, and how endpoints and deliveries show."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar
from urllib.parse import urlsplit

import orjson
from pydantic import BaseModel, BeforeValidator, ConfigDict, model_validator

from loadbay.errors import BadRequest
from loadbay.ids import fmt_iso
from loadbay.parsing import PageQuery, validate
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


def _description(text: Any) -> str | None:
    if text is not None and not isinstance(text, str):
        raise BadRequest("webhook-003", "description must be a string")
    if text is not None and (len(text) > MAX_DESCRIPTION or "\x00" in text):
        raise BadRequest("webhook-003", f"description must be at most {MAX_DESCRIPTION} characters")
    return text or None


class EndpointIn(BaseModel):
    """`{url, events, description}` as `POST /webhooks` takes it: url and events required,
    no other key. Checked in this order, each failure a 400 `webhook-001|003|017` naming
    the field and the reason."""

    model_config = ConfigDict(extra="ignore")  # unknown keys are refused by `_keys`
    partial: ClassVar[bool] = False

    url: Annotated[str | None, BeforeValidator(check_url)] = None
    events: Annotated[list[str] | None, BeforeValidator(check_events)] = None
    description: Annotated[str | None, BeforeValidator(_description)] = None

    @model_validator(mode="before")
    @classmethod
    def _keys(cls, raw: Any) -> Any:
        if not isinstance(raw, dict):
            raise BadRequest("webhook-003", "The body must be a JSON object")
        unknown = sorted(set(raw) - {"url", "events", "description"})
        if unknown:
            raise BadRequest("webhook-003", f"Unknown field(s): {', '.join(unknown)}")
        for name in ("url", "events"):
            if name not in raw and not cls.partial:
                raise BadRequest("webhook-001", f"{name} is required")
        return raw

    def given(self) -> dict[str, Any]:
        """The fields the body named (with `partial`, only those change)."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class EndpointChange(EndpointIn):
    """`PUT /webhooks/{id}`: any of the fields, checked as `EndpointIn` checks them."""

    partial = True


def parse_endpoint(payload: Any, *, partial: bool) -> dict[str, Any]:
    """The fields of an endpoint's body (with `partial`, PUT, only those given)."""
    model = EndpointChange if partial else EndpointIn
    return validate(model, payload, "webhook").given()


class WebhookQuery(PageQuery):
    """`GET /webhooks`: a page of the organisation's endpoints."""

    module = "webhook"


DELIVERY_STATUSES = ("pending", "delivered", "failed")


class DeliveryQuery(PageQuery):
    """`GET /webhooks/{id}/deliveries`: a page of the log, optionally one `status`."""

    module = "webhook"
    status: str | None = None

    def status_filter(self) -> str | None:
        """The status asked for; checked only once the endpoint was found (its 404 first)."""
        if self.status in (None, ""):
            return None
        if self.status not in DELIVERY_STATUSES:
            raise BadRequest(
                "webhook-017",
                f"Invalid status: {self.status} (use {', '.join(DELIVERY_STATUSES)})",
            )
        return self.status


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
