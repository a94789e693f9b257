"""Queueing webhook deliveries (spec 3.1): one outbox row per (event, hook), in the caller's
transaction, so an event is never recorded without its deliveries nor delivered without its event.

The body is serialised once, here, and stored as the outbox row's ``raw`` bytes: the worker
signs and sends exactly those bytes on every attempt (spec 3.2: receivers verify the raw body).
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy.orm import Session

from missive_server.db.models import Hook, WebhookDelivery
from missive_server.services import outbox
from missive_server.services.outbox import RetryPolicy

#: Missive's schedule (spec 3.1): the first attempt and 5 retries over about 8 minutes.
MISSIVE_SCHEDULE = RetryPolicy(max_attempts=6, backoff_seconds=15)


def enqueue_delivery(
    session: Session,
    *,
    hook: Hook,
    event: str,
    payload: dict[str, Any],
    conversation_id: str | None,
    now: int,
    policy: RetryPolicy = MISSIVE_SCHEDULE,
) -> WebhookDelivery:
    """Queue ``payload`` for ``hook``. orjson writes compact UTF-8 JSON without ``\\/``
    escapes, the serialisation receivers that re-serialise before verifying expect (spec 3.2)."""
    item = outbox.enqueue(
        session,
        kind="webhook",
        now=now,
        policy=policy,
        conversation_id=conversation_id,
        payload={"hook_id": hook.id, "event": event},
        raw=orjson.dumps(payload),
    )
    delivery = WebhookDelivery(
        id=item.id, hook_id=hook.id, event=event, conversation_id=conversation_id, created_at=now
    )
    session.add(delivery)
    return delivery
