"""Teams (spec 2.12) with active members and observers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from missive_server.db.base import Base


class Team(Base):
    __tablename__ = "teams"
    __table_args__ = (Index(None, "organization_id", "name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    emoji: Mapped[str | None] = mapped_column(String(64))
    color: Mapped[str | None] = mapped_column(String(32))
    business_hours: Mapped[dict[str, Any] | None]
    inactivity_period: Mapped[int | None] = mapped_column(Integer)
    team_mention_behavior: Mapped[str] = mapped_column(String(32), default="all_members")
    user_reply_behavior: Mapped[str] = mapped_column(String(32), default="assign_user")
    received_reply_behavior: Mapped[str] = mapped_column(
        String(32), default="show_in_assignee_inbox"
    )
    team_sidebar_behavior: Mapped[str] = mapped_column(String(32), default="show_team_space")
    team_inbox_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    chat_room_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[int] = mapped_column(BigInteger)


class TeamMember(Base):
    __tablename__ = "team_members"
    __table_args__ = (Index(None, "user_id"),)

    team_id: Mapped[str] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    #: ``active`` members or ``observers`` (spec 2.12.2).
    role: Mapped[str] = mapped_column(String(16))
    #: Keeps the order in which clients listed the members.
    position: Mapped[int] = mapped_column(Integer, default=0)
