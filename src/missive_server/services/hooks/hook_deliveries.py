"""Queueing webhook deliveries (spec 3.1): one outbox row per (event, hook), in the caller's
transaction, so an event is never recorded without its deliveries nor delivered without its event.

The body is serialised once, here, and stored as the outbox row's ``raw`` bytes: the worker
signs and sends exactly those bytes on every attempt (spec 3.2: receivers verify the raw body).

Also the outcome of attempts (the log, the hook's failure count, auto-disable), reading the
log back (``GET /v1/hooks/:id/deliveries``, ``GET /_emulator/deliveries``) and redelivery.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from missive_server.auth import Principal
from missive_server.db.models import Hook, OutboxItem, WebhookAttempt, WebhookDelivery
from missive_server.db.paging import cursor_rows
from missive_server.errors import not_found
from missive_server.ids import new_id
from missive_server.pagination import CursorPage
from missive_server.services import outbox
from missive_server.services.outbox import RetryPolicy

log = logging.getLogger("missive_server.webhooks")

#: Missive's schedule (spec 3.1): the first attempt and 5 retries over about 8 minutes
#: (after 15, 30, 60, 120 and 240 s: the last retry 465 s after the first attempt).
MISSIVE_SCHEDULE = RetryPolicy(max_attempts=6, backoff_seconds=15)
#: Like Stripe's: doubling from 1 minute, capped at 1 hour, the last retry about 3 days
#: (72 h 3 min) after the first attempt.
EXTENDED_SCHEDULE = RetryPolicy(max_attempts=78, backoff_seconds=60, max_delay_seconds=3600)
SCHEDULES = {"missive": MISSIVE_SCHEDULE, "extended": EXTENDED_SCHEDULE}
#: Longest error text kept per attempt.
MAX_ERROR_CHARS = 500


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


# The outcome of one attempt (delivery/webhooks.py).


def record_attempt(
    session: Session,
    *,
    delivery_id: str,
    attempted_at: int,
    status_code: int | None,
    latency_ms: int,
    error: str | None,
) -> bool:
    """Log one attempt; False when the delivery is gone (its hook was deleted meanwhile),
    rather than failing the whole outcome on the foreign key."""
    if session.get(WebhookDelivery, delivery_id, populate_existing=True) is None:
        return False
    session.add(
        WebhookAttempt(
            id=new_id(),
            delivery_id=delivery_id,
            attempted_at=attempted_at,
            status_code=status_code,
            latency_ms=latency_ms,
            error=error[:MAX_ERROR_CHARS] if error is not None else None,
        )
    )
    return True


def reset_failures(session: Session, *, hook_id: str) -> None:
    session.execute(
        update(Hook)
        .where(Hook.id == hook_id, Hook.consecutive_failures != 0)
        .values(consecutive_failures=0)
    )


def count_failure(session: Session, *, hook_id: str, now: int, disable_after: int) -> bool:
    """One more consecutive failure, counted in SQL so concurrent workers never lose one;
    at ``disable_after`` the hook is disabled and its pending deliveries are cancelled.
    True when this failure disabled it."""
    count = session.execute(
        update(Hook)
        .where(Hook.id == hook_id)
        .values(consecutive_failures=Hook.consecutive_failures + 1)
        .returning(Hook.consecutive_failures)
    ).scalar_one_or_none()
    if count is None or count < disable_after:
        return False
    disabled = session.execute(
        update(Hook).where(Hook.id == hook_id, Hook.enabled).values(enabled=False, disabled_at=now)
    )
    if not getattr(disabled, "rowcount", 0):
        return False  # another worker's failure disabled it first
    reason = f"hook disabled after {count} consecutive failed attempts"
    cancelled = cancel_pending(session, hook_id=hook_id, now=now, reason=reason)
    log.warning(
        "hook %s disabled after %d consecutive failed attempts; %d pending deliveries cancelled",
        hook_id,
        count,
        cancelled,
    )
    return True


def cancel_pending(session: Session, *, hook_id: str, now: int, reason: str) -> int:
    session.flush()  # the caller's unflushed changes must reach SQL before the expiry below
    deliveries = select(WebhookDelivery.id).where(WebhookDelivery.hook_id == hook_id)
    result = session.execute(
        update(OutboxItem)
        .where(OutboxItem.id.in_(deliveries), OutboxItem.status == "pending")
        .values(status="cancelled", last_error=reason, locked_until=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    session.expire_all()  # rows of this session (the current delivery) were changed in SQL
    return int(getattr(result, "rowcount", 0) or 0)


# Reading the log.


@dataclass(frozen=True, slots=True)
class DeliveryView:
    delivery: WebhookDelivery
    item: OutboxItem
    url: str
    attempts: list[WebhookAttempt]


def visible_hook(session: Session, *, actor: Principal, hook_id: str) -> Hook:
    """The hook when the actor created it or belongs to its organization; otherwise 404,
    worded as for an unknown id."""
    hook = session.get(Hook, hook_id)
    if hook is None or not (hook.user_id == actor.user_id or actor.is_member(hook.organization_id)):
        raise not_found("Hook", hook_id)
    return hook


def list_deliveries(
    session: Session,
    *,
    page: CursorPage,
    hook_id: str | None = None,
    actor: Principal | None = None,
) -> list[DeliveryView]:
    """Newest first (cursor ``until`` on ``created_at``), in two queries whatever the page.
    With ``actor``, only the hooks ``visible_hook`` would show them (the web UI's page)."""
    stmt = (
        select(
            WebhookDelivery.id, WebhookDelivery.created_at, WebhookDelivery, OutboxItem, Hook.url
        )
        .join(OutboxItem, OutboxItem.id == WebhookDelivery.id)
        .join(Hook, Hook.id == WebhookDelivery.hook_id)
    )
    if hook_id is not None:
        stmt = stmt.where(WebhookDelivery.hook_id == hook_id)
    if actor is not None:
        stmt = stmt.where(
            or_(Hook.user_id == actor.user_id, Hook.organization_id.in_(actor.organization_ids))
        )
    rows = cursor_rows(
        session, stmt, timestamp=WebhookDelivery.created_at, tiebreak=WebhookDelivery.id, page=page
    )
    attempts = _attempts(session, [row[0] for row in rows])
    return [DeliveryView(row[2], row[3], row[4], attempts[row[0]]) for row in rows]


def get_delivery(session: Session, *, delivery_id: str, hook_id: str | None = None) -> DeliveryView:
    stmt = (
        select(WebhookDelivery, OutboxItem, Hook.url)
        .join(OutboxItem, OutboxItem.id == WebhookDelivery.id)
        .join(Hook, Hook.id == WebhookDelivery.hook_id)
        .where(WebhookDelivery.id == delivery_id)
    )
    if hook_id is not None:
        stmt = stmt.where(WebhookDelivery.hook_id == hook_id)
    found = session.execute(stmt).first()
    if found is None:
        raise not_found("Delivery", delivery_id)
    return DeliveryView(
        found[0], found[1], found[2], _attempts(session, [delivery_id])[delivery_id]
    )


def _attempts(session: Session, delivery_ids: Sequence[str]) -> dict[str, list[WebhookAttempt]]:
    by_delivery: dict[str, list[WebhookAttempt]] = defaultdict(list)
    if delivery_ids:
        stmt = (
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(list(delivery_ids)))
            .order_by(WebhookAttempt.attempted_at, WebhookAttempt.id)
        )
        for attempt in session.scalars(stmt):
            by_delivery[attempt.delivery_id].append(attempt)
    return by_delivery


# Redelivery.


def redeliver(session: Session, *, view: DeliveryView, now: int, policy: RetryPolicy) -> None:
    """Queue the same delivery (same id, same bytes) again, due now, with a fresh schedule.

    A manual redelivery is the operator saying the receiver is back: a disabled hook is
    enabled again with its failure count reset (deliveries cancelled when it was disabled stay
    cancelled; redeliver them one by one). A delivery still pending is only made due now: it
    keeps its lease, so an attempt in progress is never doubled by another worker."""
    item = view.item
    item.updated_at = now
    item.next_attempt_at = min(item.next_attempt_at, now) if item.status == "pending" else now
    if item.status != "pending":
        item.status = "pending"
        item.attempts = 0
        item.max_attempts = policy.max_attempts
        item.locked_until = None
        item.last_error = None
        item.sent_at = None
    session.execute(
        update(Hook)
        .where(Hook.id == view.delivery.hook_id, or_(~Hook.enabled, Hook.consecutive_failures != 0))
        .values(enabled=True, disabled_at=None, consecutive_failures=0)
    )
    session.flush()
