"""Domain events: which activity fires which webhook (spec 2.15, 3.3; docs/compatibility.md).

Writers ``record`` an event where the change happens; the events of a transaction are
dispatched just before it commits, so every payload shows the conversation as the transaction
leaves it (after the message, counts and state changes a request makes, in whatever order it
made them), and the deliveries commit with the change or roll back with it.

Recording sits below every domain and imports none of them. The function that matches and
queues the events renders payloads with the very services that record them, so it cannot live
here: each session finds it in ``Session.info``, put there by the session factory of
``services/sessions.py`` that every entry point uses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from missive_server.db.models import Comment, Conversation, Message

#: Where pending events wait in ``Session.info`` until the transaction commits.
PENDING_KEY = "missive_hook_events"
#: Where a session finds the function that dispatches its pending events (``Session.info``).
DISPATCHER_KEY = "missive_dispatch_events"
#: Changes with no Missive webhook that the web app still shows live (posts): ``note_live``.
LIVE_KEY = "missive_live_events"
#: Message hook type per account type, without its ``incoming_``/``outgoing_`` direction
#: (docs/compatibility.md).
MESSAGE_EVENT_BY_ACCOUNT_TYPE = {
    "email": "email",
    "sms": "sms_message",
    "whatsapp": "whatsapp_message",
    "messenger": "facebook_message",
    "instagram": "facebook_message",
    "live_chat": "twilio_chat_message",
}


@dataclass(frozen=True, slots=True)
class PendingEvent:
    event: str
    conversation: Conversation
    now: int
    message: Message | None = None
    comment: Comment | None = None


def incoming_event(account_type: str | None, message_type: str) -> str | None:
    """The hook type an incoming message fires: by its account's type; a custom channel's
    email-type messages are emails, its text and HTML messages have no Missive hook type."""
    return _message_event("incoming", account_type, message_type)


def outgoing_event(account_type: str | None, message_type: str) -> str | None:
    """The hook type a sent message fires, by the same rule as ``incoming_event``."""
    return _message_event("outgoing", account_type, message_type)


def _message_event(direction: str, account_type: str | None, message_type: str) -> str | None:
    if account_type in (None, "custom"):
        return f"{direction}_email" if message_type == "email" else None
    kind = MESSAGE_EVENT_BY_ACCOUNT_TYPE.get(account_type)
    return f"{direction}_{kind}" if kind else None


def record(
    session: Session,
    *,
    event: str,
    conversation: Conversation,
    now: int,
    message: Message | None = None,
    comment: Comment | None = None,
) -> None:
    """Queue an event for this transaction; the same event twice (e.g. two PATCHes of one
    conversation's labels in one transaction) is delivered once."""
    if not session.in_transaction():
        # Begin one, so the events belong to a transaction: its rollback discards them.
        session.connection()
    pending: dict[tuple[str, ...], PendingEvent] = session.info.setdefault(PENDING_KEY, {})
    key = (event, conversation.id, message.id if message else "", comment.id if comment else "")
    pending.setdefault(key, PendingEvent(event, conversation, now, message, comment))


def note_live(session: Session, *, event: str, conversation: Conversation, now: int) -> None:
    """A change the web app shows live but no webhook announces (a post): it joins the
    transaction's events in the live-update log only."""
    if not session.in_transaction():
        session.connection()
    live: dict[tuple[str, str], PendingEvent] = session.info.setdefault(LIVE_KEY, {})
    live.setdefault((event, conversation.id), PendingEvent(event, conversation, now))


@event.listens_for(Session, "before_commit")
def _dispatch_before_commit(session: Session) -> None:
    if session.info.get(PENDING_KEY) or session.info.get(LIVE_KEY):
        dispatcher: Callable[[Session], object] | None = session.info.get(DISPATCHER_KEY)
        if dispatcher is None:
            # Loud, never silent: committing would drop the webhooks these events owe.
            raise RuntimeError(
                "hook events were recorded in a session without a dispatcher: "
                "make sessions with missive_server.services.sessions.session_factory"
            )
        dispatcher(session)


@event.listens_for(Session, "after_soft_rollback")
def _forget_after_rollback(session: Session, _previous: SessionTransaction) -> None:
    # A rolled-back change fired nothing: its events go with it.
    session.info.pop(PENDING_KEY, None)
    session.info.pop(LIVE_KEY, None)
