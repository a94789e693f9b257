"""The outbox table's operations: enqueue in the caller's transaction, claim, record outcomes.

Retries back off exponentially (``backoff * 2 ** (attempt - 1)``, capped at ``max_delay_seconds``
when set); after ``max_attempts`` a row is ``failed`` and stays visible, never dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from missive_server.db.models import Conversation, Message, OutboxItem, WebhookDelivery
from missive_server.errors import BadRequest, not_found
from missive_server.ids import new_id

#: How long a claim holds a row by default (``MISSIVE_DELIVERY_LEASE_SECONDS``): longer than
#: any single delivery attempt may take.
LEASE_SECONDS = 120


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 6
    backoff_seconds: int = 30
    max_delay_seconds: int | None = None

    def delay(self, attempt: int) -> int:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        if self.max_delay_seconds is not None:
            # Capped before exponentiating: a schedule of days must not build huge integers.
            exponent = min(attempt - 1, self.max_delay_seconds.bit_length())
            return min(int(self.backoff_seconds * 2**exponent), self.max_delay_seconds)
        return int(self.backoff_seconds * 2 ** (attempt - 1))


def enqueue(
    session: Session,
    *,
    kind: str,
    now: int,
    policy: RetryPolicy,
    due_at: int | None = None,
    message_id: str | None = None,
    conversation_id: str | None = None,
    payload: dict[str, Any] | None = None,
    raw: bytes | None = None,
) -> OutboxItem:
    item = OutboxItem(
        id=new_id(),
        kind=kind,
        status="pending",
        message_id=message_id,
        conversation_id=conversation_id,
        payload=payload or {},
        raw=raw,
        attempts=0,
        max_attempts=policy.max_attempts,
        next_attempt_at=due_at if due_at is not None else now,
        captured=False,
        created_at=now,
        updated_at=now,
    )
    session.add(item)
    return item


def claim_due(
    session: Session, *, now: int, limit: int = 20, lease_seconds: int = LEASE_SECONDS
) -> list[OutboxItem]:
    """Lease due rows to this worker. On PostgreSQL concurrent workers skip each other's rows
    (``FOR UPDATE SKIP LOCKED``). SQLite has no row locks and reads outside the write lock, so
    two workers may pick the same candidates: the lease is taken by a conditional UPDATE that
    re-checks them, and a row another worker leased in between is left to it."""
    claimable = (
        OutboxItem.status == "pending",
        OutboxItem.next_attempt_at <= now,
        or_(OutboxItem.locked_until.is_(None), OutboxItem.locked_until < now),
    )
    candidates = (
        select(OutboxItem.id)
        .where(*claimable)
        .order_by(OutboxItem.next_attempt_at, OutboxItem.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    ids = list(session.scalars(candidates))
    if not ids:
        return []
    leased = session.scalars(
        update(OutboxItem)
        .where(OutboxItem.id.in_(ids), *claimable)
        .values(locked_until=now + lease_seconds, attempts=OutboxItem.attempts + 1, updated_at=now)
        .returning(OutboxItem)
        .execution_options(synchronize_session=False, populate_existing=True)
    ).all()
    return sorted(leased, key=lambda item: (item.next_attempt_at, item.id))


def renew_lease(
    session: Session, *, item_id: str, held_until: int, now: int, lease_seconds: int
) -> int | None:
    """Extend a worker's lease on a row it is delivering; the new ``locked_until``, or ``None``
    when the row is no longer this worker's: sent or failed meanwhile, or its lease expired and
    another worker claimed it (a claim always sets a later ``locked_until`` than the lease it
    took over, so the value the worker holds identifies its own lease)."""
    until = max(now + lease_seconds, held_until)
    renewed = session.execute(
        update(OutboxItem)
        .where(
            OutboxItem.id == item_id,
            OutboxItem.status == "pending",
            OutboxItem.locked_until == held_until,
        )
        .values(locked_until=until)
        .execution_options(synchronize_session=False)
    )
    return until if getattr(renewed, "rowcount", 0) == 1 else None


def record_sent(
    session: Session,
    item: OutboxItem,
    *,
    now: int,
    raw: bytes | None = None,
    captured: bool = False,
) -> None:
    item.status = "sent"
    item.sent_at = now
    item.locked_until = None
    item.last_error = None
    item.captured = captured
    item.updated_at = now
    if raw is not None:
        item.raw = raw
    _mark_message(session, item, status="sent", error=None)


def record_failure(
    session: Session,
    item: OutboxItem,
    *,
    now: int,
    error: str,
    policy: RetryPolicy,
    permanent: bool = False,
) -> bool:
    """Reschedule with backoff, or mark failed after the last attempt. True when it failed."""
    item.last_error = error[:2000]
    item.locked_until = None
    item.updated_at = now
    if permanent or item.attempts >= item.max_attempts:
        item.status = "failed"
        _mark_message(session, item, status="failed", error=item.last_error)
        return True
    item.next_attempt_at = now + policy.delay(item.attempts)
    _mark_message(session, item, status="queued", error=item.last_error)
    return False


def _mark_message(session: Session, item: OutboxItem, *, status: str, error: str | None) -> None:
    """Outgoing messages show their delivery (extension fields ``delivery_status``/``_error``)."""
    if item.message_id is None or item.kind not in ("mail", "channel"):
        return
    message = session.get(Message, item.message_id)
    if message is not None:
        message.delivery_status = status
        message.delivery_error = error


def cancel_pending(session: Session, *, now: int, message_ids: Sequence[str]) -> int:
    """Cancel the pending rows of these messages (a deleted or discarded draft)."""
    if not message_ids:
        return 0
    result = session.execute(
        update(OutboxItem)
        .where(OutboxItem.message_id.in_(list(message_ids)), OutboxItem.status == "pending")
        .values(status="cancelled", updated_at=now, locked_until=None)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def cancel_pending_deliveries(session: Session, *, now: int, hook_id: str) -> int:
    """Cancel a hook's queued webhook deliveries (the hook is being deleted). Run it before the
    delete: the ``webhook_deliveries`` rows that link outbox ids to the hook cascade away."""
    deliveries = select(WebhookDelivery.id).where(WebhookDelivery.hook_id == hook_id)
    result = session.execute(
        update(OutboxItem)
        .where(
            OutboxItem.id.in_(deliveries),
            OutboxItem.kind == "webhook",
            OutboxItem.status == "pending",
        )
        .values(status="cancelled", updated_at=now, locked_until=None)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def list_items(
    session: Session, *, limit: int = 50, offset: int = 0, kind: str | None = None
) -> Sequence[OutboxItem]:
    stmt = select(OutboxItem).order_by(OutboxItem.created_at.desc(), OutboxItem.id.desc())
    if kind is not None:
        stmt = stmt.where(OutboxItem.kind == kind)
    return session.scalars(stmt.limit(limit).offset(offset)).all()


# Reading the outbox back (``missive-server outbox``, ``GET /_emulator/outbox``).

#: The shortest id prefix ``find_outbox_entry`` accepts (the CLI table shows eight characters).
MIN_ID_PREFIX = 4


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """A row with the message it delivers (``None`` when it has none, or it was deleted)."""

    item: OutboxItem
    message: Message | None


def list_outbox(
    session: Session,
    *,
    limit: int = 50,
    kind: str | None = None,
    status: str | None = None,
    kinds: Sequence[str] | None = None,
    organization_ids: Iterable[str] | None = None,
) -> list[OutboxEntry]:
    """Newest first, each row with its message, in one query. ``organization_ids`` keeps the
    rows of those organizations' conversations (the web UI's ``/outbox``)."""
    stmt = (
        select(OutboxItem, Message)
        .outerjoin(Message, Message.id == OutboxItem.message_id)
        .order_by(OutboxItem.created_at.desc(), OutboxItem.id.desc())
        .limit(limit)
    )
    if kind is not None:
        stmt = stmt.where(OutboxItem.kind == kind)
    if kinds is not None:
        stmt = stmt.where(OutboxItem.kind.in_(list(kinds)))
    if organization_ids is not None:
        in_organizations = select(Conversation.id).where(
            Conversation.organization_id.in_(list(organization_ids))
        )
        stmt = stmt.where(OutboxItem.conversation_id.in_(in_organizations))
    if status is not None:
        stmt = stmt.where(OutboxItem.status == status)
    return [OutboxEntry(item, message) for item, message in session.execute(stmt)]


def find_outbox_entry(session: Session, *, item_id: str) -> OutboxEntry:
    """A row by its id, or by a unique prefix of it (as git takes short commit ids)."""
    wanted = item_id.strip().lower()
    stmt = select(OutboxItem, Message).outerjoin(Message, Message.id == OutboxItem.message_id)
    found = session.execute(stmt.where(OutboxItem.id == wanted)).first()
    if found is None and len(wanted) >= MIN_ID_PREFIX:
        matches = session.execute(
            stmt.where(OutboxItem.id.startswith(wanted, autoescape=True)).limit(2)
        ).all()
        if len(matches) > 1:
            raise BadRequest(f"'{item_id}' matches several outbox items; give more of the id")
        found = matches[0] if matches else None
    if found is None:
        raise not_found("Outbox item", item_id)
    return OutboxEntry(found[0], found[1])
