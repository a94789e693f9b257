"""Accounts a conversation can flow through: email addresses, phone numbers, custom channels.

A user may send from an email account's address (and its aliases) when the account is
theirs or shared with them (``account_users``).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from missive_server.db.base import Base

ACCOUNT_TYPES = ("email", "sms", "whatsapp", "messenger", "instagram", "live_chat", "custom")


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (
        Index(None, "address"),
        Index(None, "phone_number"),
        Index(None, "organization_id"),
        Index(None, "owner_id"),
        Index(None, "team_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    type: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(255))
    #: ``None`` for a personal account.
    organization_id: Mapped[str | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    owner_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    team_id: Mapped[str | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    address: Mapped[str | None] = mapped_column(String(320))
    phone_number: Mapped[str | None] = mapped_column(String(32))
    #: Phone provider: ``twilio``, ``signalwire``, ``twilio_whatsapp`` or ``whatsapp`` (spec 2.6.1).
    provider: Mapped[str | None] = mapped_column(String(32))
    #: Custom channels: ``custom_text``, ``custom_html`` or ``email`` message type.
    message_type: Mapped[str | None] = mapped_column(String(32))
    webhook_url: Mapped[str | None] = mapped_column(String(2048))
    secret: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[int] = mapped_column(BigInteger)


class AccountUser(Base):
    __tablename__ = "account_users"
    __table_args__ = (Index(None, "user_id"),)

    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )


class AccountAlias(Base):
    """Extra send-as addresses of an email account."""

    __tablename__ = "account_aliases"
    __table_args__ = (Index(None, "account_id"), Index(None, "address"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    address: Mapped[str] = mapped_column(String(320))
    name: Mapped[str | None] = mapped_column(String(255))
