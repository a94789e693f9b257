"""Webhook subscriptions (spec 2.15) and the log of their deliveries (spec 3.1).

A hook is Missive's "rule with a webhook action": an event ``type``, a receiver ``url``, the
signing ``secret`` (spec 3.2) and optional filters. A delivery is one event for one hook; it is
sent through an outbox row (kind ``webhook``) whose id is the delivery id, the same on every
retry, so receivers can de-duplicate. Every attempt is logged in ``webhook_attempts``.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from missive_server.db.base import Base

#: The types of spec 2.15.1, then the rule types accepted as extensions (docs/compatibility.md).
HOOK_TYPES = (
    "incoming_email",
    "incoming_sms_message",
    "incoming_facebook_message",
    "incoming_whatsapp_message",
    "incoming_twilio_chat_message",
    "new_comment",
)
#: The rule types of sent messages: ``outgoing_sms_message`` is observed (spec 3.3), the other
#: channels' names mirror their incoming ones.
OUTGOING_HOOK_TYPES = (
    "outgoing_email",
    "outgoing_sms_message",
    "outgoing_whatsapp_message",
    "outgoing_facebook_message",
    "outgoing_twilio_chat_message",
)
EXTENSION_HOOK_TYPES = (
    "label_change",
    "conversation_closed",
    "conversation_reopened",
    "conversation_assignee_change",
    "team_change",
    *OUTGOING_HOOK_TYPES,
)


class Hook(Base):
    __tablename__ = "hooks"
    __table_args__ = (
        # Event matching reads the enabled hooks of one type, organization-wide or personal.
        Index(None, "type", "organization_id"),
        Index(None, "type", "user_id"),
        Index(None, "organization_id"),
        Index(None, "user_id"),
        Index(None, "author_id"),
        Index(None, "mention_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    type: Mapped[str] = mapped_column(String(40))
    url: Mapped[str] = mapped_column(String(2048))
    #: HMAC-SHA256 key of ``X-Hook-Signature`` and ``webhook-signature``; never logged.
    secret: Mapped[str] = mapped_column(String(255))
    #: The rule's name, sent as ``rule.description`` (spec 3.3).
    description: Mapped[str] = mapped_column(String(255))
    #: ``None`` for a personal subscription, which fires for the creator's conversations only.
    organization_id: Mapped[str | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    #: The creator (and owner of a personal hook).
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    content_contains: Mapped[str | None] = mapped_column(Text)
    content_starts_with: Mapped[str | None] = mapped_column(Text)
    content_ends_with: Mapped[str | None] = mapped_column(Text)
    is_task: Mapped[bool] = mapped_column(Boolean, default=False)
    author_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    mention_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    from_eq: Mapped[str | None] = mapped_column(String(320))
    subject_contains: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Reset by a success; the hook is disabled when it reaches the limit (spec 3.1: 50).
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    disabled_at: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[int] = mapped_column(BigInteger)


class WebhookDelivery(Base):
    """One event for one hook. ``id`` is also the id of its outbox row and the
    ``webhook-id`` header; ``body`` holds the exact bytes that are signed and sent."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index(None, "hook_id", "created_at"),
        Index(None, "created_at"),
        Index(None, "conversation_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    hook_id: Mapped[str] = mapped_column(ForeignKey("hooks.id", ondelete="CASCADE"))
    #: The event (the hook's type, or the rule type of an extension event).
    event: Mapped[str] = mapped_column(String(40))
    conversation_id: Mapped[str | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL")
    )
    created_at: Mapped[int] = mapped_column(BigInteger)


class WebhookAttempt(Base):
    __tablename__ = "webhook_attempts"
    __table_args__ = (Index(None, "delivery_id", "attempted_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    delivery_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE")
    )
    attempted_at: Mapped[int] = mapped_column(BigInteger)
    #: ``None`` when no HTTP response came (refused, timeout, DNS, unsafe address).
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
