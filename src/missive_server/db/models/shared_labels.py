"""Shared (organization) labels, nested through ``parent`` (spec 2.11)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from missive_server.db.base import Base

VISIBILITIES = ("organization", "delegates")


class SharedLabel(Base):
    __tablename__ = "shared_labels"
    __table_args__ = (
        Index(None, "organization_id", "name"),
        Index(None, "parent_id"),
        Index(None, "share_with_team_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    color: Mapped[str | None] = mapped_column(String(32))
    parent_id: Mapped[str | None] = mapped_column(
        ForeignKey("shared_labels.id", ondelete="SET NULL")
    )
    share_with_organization: Mapped[bool] = mapped_column(Boolean, default=False)
    share_with_team_id: Mapped[str | None] = mapped_column(
        ForeignKey("teams.id", ondelete="SET NULL")
    )
    visibility: Mapped[str] = mapped_column(String(16), default="organization")
    created_at: Mapped[int] = mapped_column(BigInteger)


class SharedLabelUser(Base):
    """``share_with_users``: users auto-shared on every conversation of the label."""

    __tablename__ = "shared_label_users"
    __table_args__ = (Index(None, "user_id"),)

    shared_label_id: Mapped[str] = mapped_column(
        ForeignKey("shared_labels.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
