"""Matching and queueing the recorded hook events (spec 2.15, 3.1, 3.3).

Matching is one indexed query per event: the enabled hooks of the event's type that belong to
the conversation's organization, plus the personal hooks of users with access to it. Filters
then run in Python (``hook_filters``). The conversation is rendered once per event and viewer
kind (a member, or the guest stub for a personal hook of a user outside the conversation's
organization, as ``GET /v1/conversations/:id`` shows it to them), never once per hook.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import and_, exists, false, or_, select
from sqlalchemy.orm import Session

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
from missive_server.services.conversations.comments import load_comment_views
from missive_server.services.conversations.conversation_views import load_views
from missive_server.services.conversations.messages import load_message_views
from missive_server.services.events import PENDING_KEY, PendingEvent
from missive_server.services.hooks import hook_deliveries
from missive_server.services.hooks._filters import HookSubject, matches
from missive_server.settings import Settings

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
    """Renders each conversation once per dispatch and viewer kind, whatever the hook count
    (a transaction's events about one conversation share it)."""

    session: Session
    conversations: dict[tuple[str, bool], dict[str, Any]] = field(default_factory=dict)

    @property
    def public_url(self) -> str:
        # Sessions made without a public URL (tests, scripts) use the default serve address.
        url = self.session.info.get(PUBLIC_URL_KEY) or Settings.model_construct().public_base
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
        if comment is not None:
            comments = load_comment_views(self.session, [comment])
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
