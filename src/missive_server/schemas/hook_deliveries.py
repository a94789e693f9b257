"""The delivery log of a hook (extension: ``GET /v1/hooks/:id/deliveries``, emulator views)."""

from __future__ import annotations

from typing import Any, Literal

import orjson

from missive_server.db.models import OutboxItem, WebhookAttempt, WebhookDelivery
from missive_server.schemas.base import WireModel

DeliveryStatus = Literal["pending", "sent", "failed", "cancelled"]


class AttemptOut(WireModel):
    attempted_at: int
    status_code: int | None
    latency_ms: int
    error: str | None


class DeliveryOut(WireModel):
    id: str
    hook: str
    event: str
    conversation: str | None
    created_at: int
    status: DeliveryStatus
    attempt_count: int
    next_attempt_at: int | None
    last_error: str | None
    sent_at: int | None
    attempts: list[AttemptOut]


class DeliveriesEnvelope(WireModel):
    deliveries: list[DeliveryOut]


class EmulatorDeliveryOut(DeliveryOut):
    url: str
    body: Any


class EmulatorDeliveriesEnvelope(WireModel):
    deliveries: list[EmulatorDeliveryOut]


def render_attempt(attempt: WebhookAttempt) -> dict[str, Any]:
    return {
        "attempted_at": attempt.attempted_at,
        "status_code": attempt.status_code,
        "latency_ms": attempt.latency_ms,
        "error": attempt.error,
    }


def render_delivery(
    delivery: WebhookDelivery, item: OutboxItem, attempts: list[WebhookAttempt]
) -> dict[str, Any]:
    """``attempt_count`` counts logged attempts (all of them, across redeliveries);
    ``next_attempt_at`` is set only while the delivery is pending."""
    return {
        "id": delivery.id,
        "hook": delivery.hook_id,
        "event": delivery.event,
        "conversation": delivery.conversation_id,
        "created_at": delivery.created_at,
        "status": item.status,
        "attempt_count": len(attempts),
        "next_attempt_at": item.next_attempt_at if item.status == "pending" else None,
        "last_error": item.last_error,
        "sent_at": item.sent_at,
        "attempts": [render_attempt(a) for a in attempts],
    }


def render_emulator_delivery(
    delivery: WebhookDelivery, item: OutboxItem, attempts: list[WebhookAttempt], *, url: str
) -> dict[str, Any]:
    """Also where it goes and the exact body sent, as JSON."""
    body = orjson.loads(item.raw) if item.raw else None
    return {**render_delivery(delivery, item, attempts), "url": url, "body": body}
