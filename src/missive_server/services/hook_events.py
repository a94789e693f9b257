"""Which activity fires which webhook, for which hooks (spec 2.15, 3.3).

Writers ``record`` an event where the change happens; the events of a transaction are
``dispatch``-ed just before it commits (a ``before_commit`` listener), so every payload shows
the conversation as the transaction leaves it (after the message, counts and state changes a
request makes, in whatever order it made them), and the deliveries commit with the change or
roll back with it. ``dispatch`` may also be called explicitly (it is idempotent).

Matching is one indexed query per event: the enabled hooks of the event's type that belong to
the conversation's organization, plus the personal hooks of users with access to it. Filters
then run in Python (docs/compatibility.md, "Webhook events and payloads"). The conversation is
rendered once per event and viewer kind (member, or guest stub for a personal hook of a user
outside the conversation's organization), never once per hook.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import and_, event, exists, false, or_, select
from sqlalchemy.orm import Session, SessionTransaction

from missive_server.db.models import (
    Comment,
    Conversation,
    ConversationUser,
    Hook,
    Membership,
    Message,
    WebhookDelivery,
)
from missive_server.schemas.conversations import render_conversation
from missive_server.schemas.hook_payloads import (
    render_hook_comment,
    render_hook_message,
    render_hook_payload,
)

# The module, not its names: services.comments records events through this module.
from missive_server.services import comments as comment_service
from missive_server.services import hook_deliveries
from missive_server.services.conversation_views import load_views
from missive_server.services.hook_filters import HookSubject, matches
from missive_server.services.messages import load_message_views
from missive_server.settings import Settings

#: Where pending events wait in ``Session.info`` until the transaction commits.
PENDING_KEY = "missive_hook_events"
#: ``Session.info`` key of the public URL the payload's ``web_url`` and files use.
PUBLIC_URL_KEY = "public_url"
#: Events whose payload carries the conversation's latest message (spec 3.3).
LATEST_MESSAGE_EVENTS = frozenset(
    {
        "label_change",
        "conversation_closed",
        "conversation_reopened",
        "conversation_assignee_change",
        "team_change",
    }
)
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
    pending: dict[tuple[str, ...], PendingEvent] = session.info.setdefault(PENDING_KEY, {})
    key = (event, conversation.id, message.id if message else "", comment.id if comment else "")
    pending.setdefault(key, PendingEvent(event, conversation, now, message, comment))


def dispatch(session: Session) -> list[WebhookDelivery]:
    """Match and enqueue every pending event of the session. Flushes."""
    pending: dict[tuple[str, ...], PendingEvent] = session.info.pop(PENDING_KEY, {})
    if not pending:
        return []
    session.flush()
    renderer = _Renderer(session)
    deliveries: list[WebhookDelivery] = []
    for item in pending.values():
        deliveries += emit(
            session,
            event=item.event,
            conversation=item.conversation,
            now=item.now,
            message=item.message,
            comment=item.comment,
            renderer=renderer,
        )
    session.flush()
    return deliveries


def emit(
    session: Session,
    *,
    event: str,
    conversation: Conversation,
    now: int,
    message: Message | None = None,
    comment: Comment | None = None,
    renderer: _Renderer | None = None,
) -> list[WebhookDelivery]:
    """Enqueue ``event`` for every matching hook, now (``record`` defers to the commit)."""
    subject = HookSubject(message=message, comment=comment)
    matched = [
        (hook, member)
        for hook, member in matching_hooks(session, event, conversation)
        if matches(hook, subject)
    ]
    if not matched:
        return []
    renderer = renderer or _Renderer(session)
    extra = renderer.event_object(event, conversation, message, comment)
    return [
        hook_deliveries.enqueue_delivery(
            session,
            hook=hook,
            event=event,
            payload=render_hook_payload(
                hook, event, renderer.conversation(conversation, guest=not member), extra
            ),
            conversation_id=conversation.id,
            now=now,
        )
        for hook, member in matched
    ]


def matching_hooks(
    session: Session, event: str, conversation: Conversation
) -> list[tuple[Hook, bool]]:
    """Enabled hooks of ``event`` for ``conversation``, each with whether its owner is a member
    of the conversation's organization (else a personal hook renders the guest stub)."""
    org = conversation.organization_id
    personal = and_(
        Hook.organization_id.is_(None),
        exists().where(
            ConversationUser.conversation_id == conversation.id,
            ConversationUser.user_id == Hook.user_id,
        ),
    )
    scope = or_(Hook.organization_id == org, personal) if org is not None else personal
    member = (Membership.user_id.is_not(None)) if org is not None else false()
    stmt = (
        select(Hook, member)
        .outerjoin(
            Membership,
            and_(Membership.user_id == Hook.user_id, Membership.organization_id == org),
        )
        .where(Hook.type == event, Hook.enabled.is_(True), scope)
        .order_by(Hook.created_at, Hook.id)
    )
    return [(hook, bool(is_member) or org is None) for hook, is_member in session.execute(stmt)]


@dataclass(slots=True)
class _Renderer:
    """Renders each conversation and event object once per dispatch, whatever the hook count."""

    session: Session
    conversations: dict[tuple[str, bool], dict[str, Any]] = field(default_factory=dict)
    objects: dict[tuple[str, str], tuple[str, dict[str, Any]] | None] = field(default_factory=dict)

    @property
    def public_url(self) -> str:
        url = self.session.info.get(PUBLIC_URL_KEY) or Settings.model_fields["public_url"].default
        return str(url).rstrip("/")

    def conversation(self, conversation: Conversation, *, guest: bool) -> dict[str, Any]:
        key = (conversation.id, guest)
        if key not in self.conversations:
            view = load_views(self.session, [conversation], actor=None)[0]
            self.conversations[key] = render_conversation(
                replace(view, guest=guest), public_url=self.public_url
            )
        return self.conversations[key]

    def event_object(
        self,
        event: str,
        conversation: Conversation,
        message: Message | None,
        comment: Comment | None,
    ) -> tuple[str, dict[str, Any]] | None:
        """``("message" | "comment" | "latest_message", object)`` for the payload, if any."""
        key = (event, (message or comment or conversation).id)
        if key not in self.objects:
            self.objects[key] = self._event_object(event, conversation, message, comment)
        return self.objects[key]

    def _event_object(
        self,
        event: str,
        conversation: Conversation,
        message: Message | None,
        comment: Comment | None,
    ) -> tuple[str, dict[str, Any]] | None:
        if comment is not None:
            comments = comment_service.load_comment_views(self.session, [comment])
            return "comment", render_hook_comment(comments[0], public_url=self.public_url)
        key = "message"
        if message is None and event in LATEST_MESSAGE_EVENTS:
            key, message = "latest_message", _latest_message(self.session, conversation)
        if message is None:
            return None
        view = load_message_views(self.session, [message])[0]
        return key, render_hook_message(view, public_url=self.public_url)


def _latest_message(session: Session, conversation: Conversation) -> Message | None:
    return session.scalar(
        select(Message)
        .where(Message.conversation_id == conversation.id, Message.draft.is_(False))
        .order_by(Message.delivered_at.desc(), Message.created_at.desc(), Message.id.desc())
        .limit(1)
    )


@event.listens_for(Session, "before_commit")
def _dispatch_before_commit(session: Session) -> None:
    dispatch(session)


@event.listens_for(Session, "after_soft_rollback")
def _forget_after_rollback(session: Session, _previous: SessionTransaction) -> None:
    # A rolled-back change fired nothing: its events go with it.
    session.info.pop(PENDING_KEY, None)
