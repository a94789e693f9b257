"""Posts: content an integration injects into a conversation (spec 2.10)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from missive_server.db.base import Base


class Post(Base):
    __tablename__ = "posts"
    __table_args__ = (Index(None, "conversation_id", "created_at"), Index(None, "author_id"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    author_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    username: Mapped[str | None] = mapped_column(String(255))
    username_icon: Mapped[str | None] = mapped_column(String(2048))
    conversation_icon: Mapped[str | None] = mapped_column(String(2048))
    notification: Mapped[dict[str, Any] | None]
    text: Mapped[str | None] = mapped_column(Text)
    markdown: Mapped[str | None] = mapped_column(Text)
    #: Attachment blocks (color, author, title, fields, image, footer, timestamp).
    attachments: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[int] = mapped_column(BigInteger)
