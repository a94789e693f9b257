"""What the inbox web UI shows beyond the REST views: the sidebar, list previews and a
conversation's whole timeline, each loaded in a fixed number of queries (no N+1)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import case, func, or_, select, update
from sqlalchemy.orm import Session

from missive_server.auth import Principal
from missive_server.db.models import (
    Attachment,
    Comment,
    Conversation,
    ConversationUser,
    Membership,
    Message,
    Post,
    SharedLabel,
    Task,
    TaskAssignee,
    Team,
    User,
)
from missive_server.pagination import OffsetPage
from missive_server.services.conversations.messages import attachments_by_message, users_by_id
from missive_server.services.directory.shared_labels import list_shared_labels
from missive_server.services.directory.teams import list_teams

#: A conversation page shows at most this many entries of each kind (the newest).
TIMELINE_LIMIT = 200
SIDEBAR = OffsetPage(limit=200, offset=0)


@dataclass
class Sidebar:
    teams: list[Team]
    labels: list[tuple[SharedLabel, str]]
    #: Conversations per sidebar mailbox (inbox, assigned, starred, ...), from one query.
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class Entry:
    """One item of a conversation's timeline, in time order as Missive interleaves them."""

    kind: str  # message | draft | comment | post | task
    at: int
    row: Message | Comment | Post | Task
    author: User | None = None
    attachments: list[Attachment] = field(default_factory=list)
    assignees: list[User] = field(default_factory=list)


def sidebar(session: Session, *, actor: Principal) -> Sidebar:
    teams = [v.team for v in list_teams(session, actor=actor, organization_id=None, page=SIDEBAR)]
    labels = list_shared_labels(session, actor=actor, organization_id=None, page=SIDEBAR)
    return Sidebar(
        teams=teams,
        labels=[(v.label, v.name_with_parent_names) for v in labels],
        counts=_counts(session, actor),
    )


def _counts(session: Session, actor: Principal) -> dict[str, int]:
    """The same conditions as the REST mailboxes (location, ``assigned``, ``flagged``), counted
    in one grouped query over the caller's ``conversation_users`` rows."""
    cu = ConversationUser
    unread = or_(cu.read_at.is_(None), cu.read_at < Conversation.last_activity_at)
    rows = session.execute(
        select(
            cu.location,
            func.count(),
            func.sum(case((cu.assigned.is_(True), 1), else_=0)),
            func.sum(case((cu.flagged.is_(True), 1), else_=0)),
            func.sum(case((unread, 1), else_=0)),
        )
        .join(Conversation, Conversation.id == cu.conversation_id)
        .where(cu.user_id == actor.user_id)
        .group_by(cu.location)
    ).all()
    by_location = {location: int(n) for location, n, _, _, _ in rows}
    unread_by_location = {location: int(u or 0) for location, _, _, _, u in rows}
    return {
        "inbox": by_location.get("inbox", 0),
        "inbox_unread": unread_by_location.get("inbox", 0),
        "assigned": sum(int(a or 0) for _, _, a, _, _ in rows),
        "starred": sum(int(f or 0) for _, _, _, f, _ in rows),
    }


def mark_read(session: Session, *, actor: Principal, conversation_id: str, now: int) -> None:
    """Opening a conversation reads it for this user only (their ``conversation_users`` row)."""
    session.execute(
        update(ConversationUser)
        .where(
            ConversationUser.conversation_id == conversation_id,
            ConversationUser.user_id == actor.user_id,
        )
        .values(read_at=now)
    )


def previews(session: Session, conversation_ids: Sequence[str]) -> dict[str, str]:
    """The preview of each conversation's latest delivered message, one query for a page."""
    if not conversation_ids:
        return {}
    latest = (
        select(Message.conversation_id, func.max(Message.delivered_at).label("at"))
        .where(Message.conversation_id.in_(conversation_ids), Message.draft.is_(False))
        .group_by(Message.conversation_id)
        .subquery()
    )
    rows = session.execute(
        select(Message.conversation_id, Message.preview).join(
            latest,
            (latest.c.conversation_id == Message.conversation_id)
            & (latest.c.at == Message.delivered_at),
        )
    ).all()
    return {cid: preview or "" for cid, preview in rows}


def timeline(session: Session, *, actor: Principal, conversation_id: str) -> list[Entry]:
    """Messages, the caller's drafts, comments, posts and tasks, oldest first."""
    messages = session.scalars(
        select(Message)
        .where(Message.conversation_id == conversation_id)
        .where((Message.draft.is_(False)) | (Message.author_id == actor.user_id))
        .order_by(Message.created_at.desc())
        .limit(TIMELINE_LIMIT)
    ).all()
    comments = session.scalars(
        select(Comment)
        .where(Comment.conversation_id == conversation_id)
        .order_by(Comment.created_at.desc())
        .limit(TIMELINE_LIMIT)
    ).all()
    posts = session.scalars(
        select(Post)
        .where(Post.conversation_id == conversation_id)
        .order_by(Post.created_at.desc())
        .limit(TIMELINE_LIMIT)
    ).all()
    tasks = session.scalars(
        select(Task)
        .where(Task.conversation_id == conversation_id)
        .order_by(Task.created_at.desc())
        .limit(TIMELINE_LIMIT)
    ).all()
    files = attachments_by_message(session, [m.id for m in messages])
    comment_files = _by_id(session, [c.attachment_id for c in comments if c.attachment_id])
    assignees: dict[str, list[str]] = defaultdict(list)
    if tasks:
        for task_id, user_id in session.execute(
            select(TaskAssignee.task_id, TaskAssignee.user_id).where(
                TaskAssignee.task_id.in_([t.id for t in tasks])
            )
        ):
            assignees[task_id].append(user_id)
    wanted = {m.author_id for m in messages} | {c.author_id for c in comments}
    wanted |= {p.author_id for p in posts} | {u for ids in assignees.values() for u in ids}
    users = users_by_id(session, [u for u in wanted if u])
    entries = [
        Entry(
            "draft" if m.draft else "message",
            m.delivered_at or m.created_at,
            m,
            users.get(m.author_id or ""),
            files.get(m.id, []),
        )
        for m in messages
    ]
    entries += [
        Entry(
            "comment",
            c.created_at,
            c,
            users.get(c.author_id or ""),
            [comment_files[c.attachment_id]] if c.attachment_id in comment_files else [],
        )
        for c in comments
    ]
    entries += [Entry("post", p.created_at, p, users.get(p.author_id or "")) for p in posts]
    entries += [
        Entry(
            "task",
            t.created_at,
            t,
            users.get(t.creator_id or ""),
            assignees=[users[u] for u in assignees[t.id] if u in users],
        )
        for t in tasks
    ]
    entries.sort(key=lambda e: (e.at, e.kind))
    return entries


def _by_id(session: Session, ids: list[str]) -> dict[str, Attachment]:
    if not ids:
        return {}
    return {a.id: a for a in session.scalars(select(Attachment).where(Attachment.id.in_(ids)))}


def emulator_users(session: Session) -> list[User]:
    """Members of any organization, for the emulator's sign-in picker."""
    return list(
        session.scalars(
            select(User)
            .where(User.id.in_(select(Membership.user_id)))
            .order_by(User.name, User.email)
            .limit(200)
        )
    )
