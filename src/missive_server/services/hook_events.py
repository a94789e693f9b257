"""Which activity fires which webhook (spec 2.15, 3.3; docs/compatibility.md).

Writers ``record`` an event where the change happens; the events of a transaction are
dispatched just before it commits (a ``before_commit`` listener, ``hook_dispatch``), so every
payload shows the conversation as the transaction leaves it (after the message, counts and state
changes a request makes, in whatever order it made them), and the deliveries commit with the
change or roll back with it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from missive_server.db.models import Comment, Conversation, Message

#: Where pending events wait in ``Session.info`` until the transaction commits.
PENDING_KEY = "missive_hook_events"
#: Incoming-message hook type per account type (docs/compatibility.md).
INCOMING_BY_ACCOUNT_TYPE = {
    "email": "incoming_email",
    "sms": "incoming_sms_message",
    "whatsapp": "incoming_whatsapp_message",
    "messenger": "incoming_facebook_message",
    "instagram": "incoming_facebook_message",
    "live_chat": "incoming_twilio_chat_message",
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
    if account_type in (None, "custom"):
        return "incoming_email" if message_type == "email" else None
    return INCOMING_BY_ACCOUNT_TYPE.get(account_type)


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


@event.listens_for(Session, "before_commit")
def _dispatch_before_commit(session: Session) -> None:
    if session.info.get(PENDING_KEY):
        # Imported here: rendering payloads needs the very services that record events.
        from missive_server.services import hook_dispatch

        hook_dispatch.dispatch(session)


@event.listens_for(Session, "after_soft_rollback")
def _forget_after_rollback(session: Session, _previous: SessionTransaction) -> None:
    # A rolled-back change fired nothing: its events go with it.
    session.info.pop(PENDING_KEY, None)
