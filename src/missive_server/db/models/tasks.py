"""Tasks: standalone, subtasks of a conversation, or tasked conversations (spec 2.14)."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from missive_server.db.base import Base

TASK_STATES = ("todo", "in_progress", "closed")


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (
        # One index per GET /v1/tasks filter (spec 2.14.1), each ending in the sort column so a
        # page is a range scan; ``due_at`` bounds are ranges themselves.
        Index(None, "organization_id", "last_activity_at"),
        Index(None, "organization_id", "state", "last_activity_at"),
        Index(None, "organization_id", "type", "last_activity_at"),
        Index(None, "organization_id", "due_at"),
        Index(None, "conversation_id", "last_activity_at"),
        Index(None, "team_id", "last_activity_at"),
        Index(None, "creator_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organization_id: Mapped[str | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    conversation_id: Mapped[str | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    team_id: Mapped[str | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    creator_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: ``task`` (standalone or subtask) or ``conversation`` (a tasked conversation).
    type: Mapped[str] = mapped_column(String(16), default="task")
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="todo")
    due_at: Mapped[int | None] = mapped_column(BigInteger)
    started_at: Mapped[int | None] = mapped_column(BigInteger)
    closed_at: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[int] = mapped_column(BigInteger)
    last_activity_at: Mapped[int] = mapped_column(BigInteger)


class TaskAssignee(Base):
    __tablename__ = "task_assignees"
    __table_args__ = (Index(None, "user_id", "last_activity_at"),)

    task_id: Mapped[str] = mapped_column(
        ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    #: A copy of the task's ``last_activity_at``, so ``GET /v1/tasks?assignee=`` pages through
    #: this table's index (like ``conversation_users``); ``services.tasks`` keeps it in step.
    last_activity_at: Mapped[int] = mapped_column(BigInteger, default=0)
