"""Comments: the team's internal discussion inside a conversation."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from missive_server.db.base import Base


class Comment(Base):
    __tablename__ = "comments"
    __table_args__ = (
        Index(None, "conversation_id", "created_at"),
        Index(None, "author_id"),
        Index(None, "attachment_id"),
        Index(None, "task_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    author_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    #: ``[{"id": user_id, "index": int, "length": int}]`` (spec 1A, Comment).
    mentions: Mapped[list[Any]] = mapped_column(default=list)
    attachment_id: Mapped[str | None] = mapped_column(
        ForeignKey("attachments.id", ondelete="SET NULL")
    )
    task_id: Mapped[str | None] = mapped_column(ForeignKey("tasks.id", ondelete="SET NULL"))
    created_at: Mapped[int] = mapped_column(BigInteger)
