"""Low-level state of a conversation: who has access, last activity and the summary columns.

Every writer (messages, posts, comments, drafts, tasks, PATCH) goes through these functions so
the denormalised copies used by mailbox lists (see db/models/conversations.py) stay in step.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    ScalarSelect,
    Select,
    bindparam,
    func,
    select,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from missive_server.db.base import table_of
from missive_server.db.models import (
    Attachment,
    Conversation,
    ConversationLabel,
    ConversationUser,
    Message,
    Task,
)
from missive_server.services import events


def grant_access(
    session: Session,
    conversation: Conversation,
    user_ids: Iterable[str],
    *,
    now: int,
    location: str = "inbox",
) -> list[ConversationUser]:
    """Give users access; users who already have it keep their state. Returns the new rows."""
    wanted = list(dict.fromkeys(user_ids))
    if not wanted:
        return []
    existing = set(
        session.scalars(
            select(ConversationUser.user_id).where(
                ConversationUser.conversation_id == conversation.id,
                ConversationUser.user_id.in_(wanted),
            )
        )
    )
    added = [
        ConversationUser(
            conversation_id=conversation.id,
            user_id=user_id,
            location=location,
            flagged=False,
            assigned=False,
            unassigned=False,
            added_at=now,
            last_activity_at=conversation.last_activity_at,
        )
        for user_id in wanted
        if user_id not in existing
    ]
    session.add_all(added)
    session.flush()
    return added


#: Built once: every post, message and draft runs them (docs/architecture.md, "Performance
#: notes"). Core updates on the tables: the ORM's bulk UPDATE with its session synchronisation
#: cost each post more than both statements (issue 13); ``touch`` synchronises itself.
_TOUCHED = (ConversationUser, ConversationLabel)
_TOUCH = [
    update(table_of(model))
    .where(table_of(model).c.conversation_id == bindparam("conversation"))
    .values(last_activity_at=bindparam("at"))
    for model in _TOUCHED
]


def touch(session: Session, conversation: Conversation, at: int) -> None:
    """Move ``last_activity_at`` forward (never back) on the conversation and its list copies."""
    if at <= conversation.last_activity_at:
        return
    conversation.last_activity_at = at
    # Core does not autoflush: list copies this transaction added must be in the table first.
    session.flush()
    connection = session.connection()
    for stmt in _TOUCH:
        connection.execute(stmt, {"conversation": conversation.id, "at": at})
    # What the ORM's synchronize_session did: copies already loaded see the new time, as
    # committed state (not a change to flush). Read from ``__dict__`` so an expired copy is
    # left to load the new value rather than loaded here.
    for loaded in list(session.identity_map.values()):
        if (
            isinstance(loaded, _TOUCHED)
            and loaded.__dict__.get("conversation_id") == conversation.id
            and "last_activity_at" in loaded.__dict__
        ):
            set_committed_value(loaded, "last_activity_at", at)


def reopen_for_reply(
    session: Session,
    conversation: Conversation,
    *,
    now: int,
    users: bool = True,
    team: bool = True,
) -> None:
    """A reply brings the conversation back: Closed/Snoozed → Inbox for its users, team Closed →
    team Inbox. Trash and Spam stay put (the user threw it away on purpose). Reopened for
    its users or its team, it is no longer resolved (``closed_at`` is cleared); leaving Closed
    anywhere is a ``conversation_reopened`` event."""
    if users or team:
        conversation.closed_at = None
    reopened = False
    if users:
        for row in session.scalars(
            select(ConversationUser).where(
                ConversationUser.conversation_id == conversation.id,
                ConversationUser.location.in_(("closed", "snoozed")),
            )
        ):
            reopened = reopened or row.location == "closed"
            row.location, row.snoozed_until = "inbox", None
    if team and conversation.team_id is not None and conversation.team_state == "closed":
        conversation.team_state = "inbox"
        reopened = True
    session.flush()
    if reopened:
        events.record(session, event="conversation_reopened", conversation=conversation, now=now)


def refresh_summary(session: Session, conversation: Conversation) -> None:
    """Recompute counts, authors and latest subject from the data (not incrementally)."""
    facts = session.connection().execute(_SUMMARY, {"conversation": conversation.id}).one()
    sent, latest_sent, latest_draft, attachments, drafts, later, tasks, completed = facts
    conversation.messages_count = sent or 0
    # A conversation holding only drafts is titled by its newest draft until something is sent
    # (docs/compatibility.md).
    conversation.latest_message_subject = latest_sent if sent else latest_draft
    conversation.attachments_count = attachments or 0
    conversation.drafts_count = drafts or 0
    conversation.send_later_messages_count = later or 0
    conversation.tasks_count, conversation.completed_tasks_count = tasks or 0, completed or 0
    conversation.authors = _authors(session, conversation.id)


def _summary_statement() -> Select[Any]:
    """Every count and subject of the summary in one round trip (each a scalar subquery on the
    conversation's index), built once: every sent message and draft refreshes a summary."""
    cid: BindParameter[str] = bindparam("conversation")
    m = Message
    sent = (m.conversation_id == cid) & m.draft.is_(False)
    drafts = (m.conversation_id == cid) & m.draft.is_(True)
    # The id breaks a tie of one second so every refresh picks the same message on both backends.
    newest = (m.delivered_at.desc(), m.created_at.desc(), m.id.desc())

    def count(*where: ColumnElement[bool]) -> ScalarSelect[int]:
        return select(func.count()).select_from(m).where(*where).scalar_subquery()

    def tasks(*where: ColumnElement[bool]) -> ScalarSelect[int]:
        # Subtasks only: a tasked conversation's own task (type "conversation") is not one.
        subtasks = (Task.conversation_id == cid) & (Task.type == "task")
        return select(func.count()).select_from(Task).where(subtasks, *where).scalar_subquery()

    return select(
        count(sent),
        select(m.subject).where(sent).order_by(*newest).limit(1).scalar_subquery(),
        select(m.subject).where(drafts).order_by(*newest).limit(1).scalar_subquery(),
        select(func.count())
        .select_from(Attachment)
        .join(m, m.id == Attachment.message_id)
        .where(sent)
        .scalar_subquery(),
        count(drafts, m.send_at.is_(None)),
        count(drafts, m.send_at.is_not(None)),
        tasks(),
        tasks(Task.state == "closed"),
    )


_SUMMARY = _summary_statement()


def _authors(session: Session, conversation_id: str) -> list[dict[str, object]]:
    """Distinct senders, first seen first: ``{name, address}`` or ``{name, phone_number}``."""
    senders = session.scalars(
        select(Message.from_field)
        .where(Message.conversation_id == conversation_id, Message.draft.is_(False))
        .order_by(Message.delivered_at, Message.created_at, Message.id)
    )
    authors: dict[str, dict[str, object]] = {}
    for sender in senders:
        if not sender:
            continue
        author = _author(sender)
        authors.setdefault(repr(sorted(author.items())), author)
    return list(authors.values())


def _author(sender: dict[str, object]) -> dict[str, object]:
    if sender.get("phone_number"):
        return {
            "name": sender.get("name") or sender["phone_number"],
            "phone_number": sender["phone_number"],
        }
    return {"name": sender.get("name") or sender.get("address"), "address": sender.get("address")}
