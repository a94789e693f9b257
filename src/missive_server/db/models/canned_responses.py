"""Canned responses (Missive's ``responses``, spec 2.9): an organization's or one user's."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from missive_server.db.base import Base


class CannedResponse(Base):
    __tablename__ = "responses"
    __table_args__ = (
        # Exactly one owner: an organization response or a personal one (spec 2.9.3).
        CheckConstraint("(organization_id IS NULL) <> (user_id IS NULL)", name="one_owner"),
        # (external_source, external_id) is unique per owner. NULLs never collide, so each index
        # only binds the responses of its own kind. Short explicit names: PostgreSQL keeps 63.
        Index(
            "ix_responses_organization_external",
            "organization_id",
            "external_source",
            "external_id",
            unique=True,
        ),
        Index(
            "ix_responses_user_external", "user_id", "external_source", "external_id", unique=True
        ),
        Index(None, "share_with_team_id"),
        Index(None, "created_by_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organization_id: Mapped[str | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str | None] = mapped_column(String(500))
    subject: Mapped[str | None] = mapped_column(String(500))
    body: Mapped[str | None] = mapped_column(Text)
    share_with_team_id: Mapped[str | None] = mapped_column(
        ForeignKey("teams.id", ondelete="SET NULL")
    )
    to_fields: Mapped[list[Any]] = mapped_column(default=list)
    cc_fields: Mapped[list[Any]] = mapped_column(default=list)
    bcc_fields: Mapped[list[Any]] = mapped_column(default=list)
    external_id: Mapped[str | None] = mapped_column(String(255))
    external_source: Mapped[str | None] = mapped_column(String(255))
    #: The integration that owns the response (e.g. ``whatsapp`` for synced templates); such
    #: responses cannot be updated or deleted through the API (spec 2.9.4, 2.9.5).
    integration: Mapped[str | None] = mapped_column(String(64))
    created_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[int] = mapped_column(BigInteger)
    modified_at: Mapped[int] = mapped_column(BigInteger)


class CannedResponseLabel(Base):
    """``shared_labels`` of an organization response (applied when the response is used)."""

    __tablename__ = "response_shared_labels"
    __table_args__ = (Index(None, "shared_label_id"),)

    response_id: Mapped[str] = mapped_column(
        ForeignKey("responses.id", ondelete="CASCADE"), primary_key=True
    )
    shared_label_id: Mapped[str] = mapped_column(
        ForeignKey("shared_labels.id", ondelete="CASCADE"), primary_key=True
    )


class CannedResponseAttachment(Base):
    """Files of a response. A link table rather than an ``attachments.response_id`` column:
    adding a foreign key to ``attachments`` on SQLite means recreating the table, and dropping
    the old one with foreign keys on nulls every ``comments.attachment_id`` (docs/architecture.md).
    Deleting a response deletes its attachment rows in ``services.canned_responses``."""

    __tablename__ = "response_attachments"
    __table_args__ = (Index(None, "response_id"),)

    attachment_id: Mapped[str] = mapped_column(
        ForeignKey("attachments.id", ondelete="CASCADE"), primary_key=True
    )
    response_id: Mapped[str] = mapped_column(ForeignKey("responses.id", ondelete="CASCADE"))
