"""Messages and drafts (one table: a draft is a message not yet sent) and their attachments."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from missive_server.db.base import Base


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        Index(None, "conversation_id", "draft", "delivered_at"),
        Index(None, "conversation_id", "draft", "created_at"),
        Index(None, "email_message_id"),
        Index(None, "external_id"),
        Index(None, "account_id"),
        Index(None, "author_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    author_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: ``email``, ``sms``, ``whatsapp``, ``custom_text``, ``custom_html`` ...
    type: Mapped[str] = mapped_column(String(32), default="email")
    draft: Mapped[bool] = mapped_column(Boolean, default=False)
    subject: Mapped[str | None] = mapped_column(Text)
    preview: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    from_field: Mapped[dict[str, Any] | None]
    to_fields: Mapped[list[Any]] = mapped_column(default=list)
    cc_fields: Mapped[list[Any]] = mapped_column(default=list)
    bcc_fields: Mapped[list[Any]] = mapped_column(default=list)
    reply_to_fields: Mapped[list[Any]] = mapped_column(default=list)
    email_message_id: Mapped[str | None] = mapped_column(String(998))
    in_reply_to: Mapped[list[Any]] = mapped_column(default=list)
    references: Mapped[list[Any]] = mapped_column(default=list)
    external_id: Mapped[str | None] = mapped_column(String(255))
    delivered_at: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)
    send_at: Mapped[int | None] = mapped_column(BigInteger)
    auto_followup: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Outgoing messages: ``queued``, ``sent`` or ``failed`` (an extension field on the wire).
    delivery_status: Mapped[str | None] = mapped_column(String(16))
    delivery_error: Mapped[str | None] = mapped_column(Text)


class MessageReference(Base):
    """Normalised (chevron-free) Message-IDs, References and external ids, for spec 1B lookups."""

    __tablename__ = "message_references"
    __table_args__ = (Index(None, "reference"), Index(None, "conversation_id"))

    message_id: Mapped[str] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    reference: Mapped[str] = mapped_column(String(998), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))


class ConversationReference(Base):
    """References a conversation was addressed by without a message carrying them (a post's or
    a subtask's ``references``, spec 1B): later writers with one of them land there too."""

    __tablename__ = "conversation_references"
    __table_args__ = (Index(None, "conversation_id"),)

    reference: Mapped[str] = mapped_column(String(998), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )


class Attachment(Base):
    __tablename__ = "attachments"
    __table_args__ = (Index(None, "message_id"), Index(None, "organization_id"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    message_id: Mapped[str | None] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    organization_id: Mapped[str | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    filename: Mapped[str] = mapped_column(String(255))
    extension: Mapped[str | None] = mapped_column(String(32))
    media_type: Mapped[str] = mapped_column(String(64))
    sub_type: Mapped[str] = mapped_column(String(128))
    size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    #: Deferred: rendering a message lists its attachments on every read, and only a download
    #: or an outgoing mail needs the bytes (up to the body limit each).
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    #: Unguessable part of the download URL, standing in for Missive's signed file URLs.
    download_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(BigInteger)
