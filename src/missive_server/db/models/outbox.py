"""The outbox: every side effect (mail, channel messages, scheduled sends) is a row first.

A row is written in the same transaction as the change that caused it, so nothing is lost on
a crash; the worker claims due rows with a lease, does the network I/O outside any transaction,
and records the outcome. The row is the truth (design.md, "Request flow").
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from missive_server.db.base import Base

#: ``mail`` (an email message to relay), ``channel`` (SMS/WhatsApp/custom... through an
#: adapter), ``send_draft`` (a scheduled draft whose ``send_at`` has come),
#: ``analytics_report`` (a report to compute, spec 2.1), ``webhook`` (a rule webhook delivery,
#: spec 3.1; its id is the ``webhook_deliveries`` id).
OUTBOX_KINDS = ("mail", "channel", "send_draft", "analytics_report", "webhook")
OUTBOX_STATUSES = ("pending", "sent", "failed", "cancelled")


class OutboxItem(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        Index(None, "status", "next_attempt_at"),
        Index(None, "message_id"),
        Index(None, "conversation_id", "kind", "status"),
        Index(None, "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    message_id: Mapped[str | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    conversation_id: Mapped[str | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL")
    )
    #: Kind-specific data: sender, recipients, channel, URL...
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: The exact bytes sent (RFC 5322 message, or the JSON body of a channel webhook).
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=6)
    next_attempt_at: Mapped[int] = mapped_column(BigInteger)
    #: A claim's lease: a worker that dies mid-delivery frees the row when it expires.
    locked_until: Mapped[int | None] = mapped_column(BigInteger)
    last_error: Mapped[str | None] = mapped_column(Text)
    #: ``True`` when mail was kept here instead of relayed (no ``MISSIVE_SMTP_URL``).
    captured: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)
    sent_at: Mapped[int | None] = mapped_column(BigInteger)
