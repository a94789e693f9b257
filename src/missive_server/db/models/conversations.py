"""Conversations, per-user mailbox state, labels and the addresses that took part.

``last_activity_at`` is copied onto every row a mailbox list is read from (users, labels), so
each list is one index range scan that stays flat as data grows. ``services.conversations``
keeps the copies in step; the summary columns (counts, authors) are recomputed from the data
by ``services.conversation_summary`` after each change, so reads are one row.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from missive_server.db.base import Base
from missive_server.db.search_text import TERM_MAX, binary_string

#: Where a conversation sits for one user. ``none`` = only in "All".
LOCATIONS = ("inbox", "closed", "snoozed", "trashed", "junked", "none")
#: Where a conversation sits for its team.
TEAM_STATES = ("inbox", "closed", "none")


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (
        Index(None, "team_id", "team_state", "last_activity_at"),
        Index(None, "team_id", "last_activity_at"),
        Index(None, "organization_id", "last_activity_at"),
        Index(None, "merged_into_id"),
        Index(None, "organization_id", "closed_at"),
        Index(None, "account_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organization_id: Mapped[str | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    team_id: Mapped[str | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    team_state: Mapped[str] = mapped_column(String(8), default="none")
    account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    subject: Mapped[str | None] = mapped_column(Text)
    color: Mapped[str | None] = mapped_column(String(32))
    icon_url: Mapped[str | None] = mapped_column(String(2048))
    created_at: Mapped[int] = mapped_column(BigInteger)
    last_activity_at: Mapped[int] = mapped_column(BigInteger)
    merged_into_id: Mapped[str | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL")
    )
    #: When it was last closed for everyone (spec 1B ``close``) and has stayed closed since;
    #: anything that reopens it clears it (services.conversation_actions, conversation_state).
    #: Internal, for analytics resolution times: never rendered on the wire.
    closed_at: Mapped[int | None] = mapped_column(BigInteger)
    # Summary, recomputed from messages/tasks by services.conversation_summary.
    latest_message_subject: Mapped[str | None] = mapped_column(Text)
    messages_count: Mapped[int] = mapped_column(Integer, default=0)
    attachments_count: Mapped[int] = mapped_column(Integer, default=0)
    drafts_count: Mapped[int] = mapped_column(Integer, default=0)
    send_later_messages_count: Mapped[int] = mapped_column(Integer, default=0)
    tasks_count: Mapped[int] = mapped_column(Integer, default=0)
    completed_tasks_count: Mapped[int] = mapped_column(Integer, default=0)
    authors: Mapped[list[Any]] = mapped_column(default=list)


class ConversationUser(Base):
    """A user with access to a conversation, and where it sits in their mailboxes."""

    __tablename__ = "conversation_users"
    __table_args__ = (
        Index(None, "user_id", "location", "last_activity_at"),
        Index(None, "user_id", "last_activity_at"),
        Index(None, "user_id", "flagged", "last_activity_at"),
        Index(None, "user_id", "assigned", "last_activity_at"),
    )

    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    location: Mapped[str] = mapped_column(String(8), default="inbox")
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    assigned: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Set when the user was removed from the assignees (``remove_assignees``).
    unassigned: Mapped[bool] = mapped_column(Boolean, default=False)
    snoozed_until: Mapped[int | None] = mapped_column(BigInteger)
    #: When this user last opened the conversation in the web app; unread while the
    #: conversation's activity is newer (web app only: Missive's API has no read state).
    read_at: Mapped[int | None] = mapped_column(BigInteger)
    added_at: Mapped[int] = mapped_column(BigInteger)
    #: Order of assignment, so ``assignee_names`` is stable.
    assigned_at: Mapped[int | None] = mapped_column(BigInteger)
    last_activity_at: Mapped[int] = mapped_column(BigInteger)


class ConversationLabel(Base):
    __tablename__ = "conversation_labels"
    __table_args__ = (Index(None, "shared_label_id", "last_activity_at"),)

    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    shared_label_id: Mapped[str] = mapped_column(
        ForeignKey("shared_labels.id", ondelete="CASCADE"), primary_key=True
    )
    added_at: Mapped[int] = mapped_column(BigInteger)
    last_activity_at: Mapped[int] = mapped_column(BigInteger)


class ConversationAddress(Base):
    """Every email address seen in a conversation's messages (From/To/Cc/Bcc/Reply-To)."""

    __tablename__ = "conversation_addresses"
    __table_args__ = (Index(None, "address"), Index(None, "domain"))

    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    address: Mapped[str] = mapped_column(String(320), primary_key=True)
    domain: Mapped[str] = mapped_column(String(255))


class ConversationSearchTerm(Base):
    """Normalised words of a conversation's subject, messages, parties, posts and comments:
    the primary key ``(term, conversation_id)`` is the search index (services.web.search)."""

    __tablename__ = "conversation_search_terms"
    # WITHOUT ROWID on SQLite: the primary key is the table, so a prefix range reads the
    # conversation ids straight from it. The second index answers "does this conversation
    # have a term starting with w" (the common-word walk) and keeps writes idempotent.
    __table_args__ = (
        # Named: the convention's name would pass PostgreSQL's 63 characters.
        Index("ix_conversation_search_terms_conversation_id_term", "conversation_id", "term"),
        {"sqlite_with_rowid": False},
    )

    term: Mapped[str] = mapped_column(binary_string(TERM_MAX), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
