"""The live-update log: one row per domain event (the events that feed webhooks, plus posts),
read by the web app's Server-Sent Events stream. The autoincrement id is the stream's cursor
(``Last-Event-ID``)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from missive_server.db.base import Base


class WebEvent(Base):
    __tablename__ = "web_events"
    __table_args__ = (Index(None, "organization_id", "id"),)

    # INTEGER on SQLite, so the column is the rowid and autoincrements.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    organization_id: Mapped[str | None] = mapped_column(String(36))
    conversation_id: Mapped[str] = mapped_column(String(36))
    event: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(BigInteger)
