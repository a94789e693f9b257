"""The live-update log (``web_events``): the second consumer of the domain events that feed
webhooks (``services/events.py``; design convention 13). At commit, every event of the
transaction, and every ``note_live`` change (posts), becomes one row; after the commit the
session's ``NOTIFY_KEY`` callable (the web app's hub) wakes the open event streams."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import event, func, insert, select
from sqlalchemy.orm import Session

from missive_server.db.base import table_of
from missive_server.db.models import WebEvent
from missive_server.services.events import LIVE_KEY, PENDING_KEY, PendingEvent

#: ``Session.info`` key of the callable that wakes the streams after a commit (any thread).
NOTIFY_KEY = "missive_live_notify"
_DIRTY_KEY = "missive_live_dirty"


_INSERT = insert(table_of(WebEvent))


def persist(session: Session) -> None:
    """Write the transaction's events as log rows (called by the dispatcher before commit)."""
    pending: dict[tuple[str, ...], PendingEvent] = session.info.get(PENDING_KEY, {})
    live: dict[tuple[str, ...], PendingEvent] = session.info.pop(LIVE_KEY, {})
    rows = {
        (item.event, item.conversation.id): {
            "event": item.event,
            "conversation_id": item.conversation.id,
            "organization_id": item.conversation.organization_id,
            "created_at": item.now,
        }
        for item in [*pending.values(), *live.values()]
    }
    if rows:
        # Core, not the ORM's bulk insert (a third of the cost, issue 13); Core does not
        # autoflush, and the rows reference conversations this transaction may have made.
        session.flush()
        session.connection().execute(_INSERT, list(rows.values()))
        session.info[_DIRTY_KEY] = True


def latest_event_id(session: Session) -> int:
    return int(session.scalar(select(func.max(WebEvent.id))) or 0)


@event.listens_for(Session, "after_commit")
def _notify_after_commit(session: Session) -> None:
    if session.info.pop(_DIRTY_KEY, False):
        notify: Callable[[], None] | None = session.info.get(NOTIFY_KEY)
        if notify is not None:
            notify()


@event.listens_for(Session, "after_soft_rollback")
def _forget_after_rollback(session: Session, _previous: object) -> None:
    session.info.pop(_DIRTY_KEY, None)
