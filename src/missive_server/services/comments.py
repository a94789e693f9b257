"""Comments: the team's discussion inside a conversation (spec 2.5.5)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from missive_server.auth import Principal
from missive_server.db.models import Attachment, Comment, Task, TaskAssignee, Team, User
from missive_server.pagination import CursorPage
from missive_server.schemas.comments import CommentView, TaskView
from missive_server.services.conversations import get_visible_conversation
from missive_server.services.messages import cursor_entities, users_by_id

M = TypeVar("M", Attachment, Task, Team)


def list_comments(
    session: Session, *, actor: Principal, conversation_id: str, page: CursorPage
) -> list[CommentView]:
    """Newest ``created_at`` first, with authors, attachments and tasks loaded for the page."""
    conversation = get_visible_conversation(session, actor=actor, conversation_id=conversation_id)
    stmt = select(Comment.id, Comment.created_at, Comment).where(
        Comment.conversation_id == conversation.id
    )
    found = cursor_entities(
        session, stmt, timestamp=Comment.created_at, tiebreak=Comment.id, page=page
    )
    return load_comment_views(session, found)


def load_comment_views(session: Session, comments: Sequence[Comment]) -> list[CommentView]:
    attachments = _by_id(session, Attachment, {c.attachment_id for c in comments})
    tasks = _by_id(session, Task, {c.task_id for c in comments})
    assignees = _assignee_ids(session, list(tasks))
    teams = _by_id(session, Team, {t.team_id for t in tasks.values()})
    user_ids = {c.author_id for c in comments if c.author_id}
    user_ids.update(u for ids in assignees.values() for u in ids)
    users = users_by_id(session, user_ids)
    task_views = {
        task_id: TaskView(
            task=task,
            assignees=[users[u] for u in assignees.get(task_id, []) if u in users],
            team=teams.get(task.team_id) if task.team_id else None,
        )
        for task_id, task in tasks.items()
    }
    return [
        CommentView(
            comment=c,
            author=users.get(c.author_id) if c.author_id else None,
            attachment=attachments.get(c.attachment_id) if c.attachment_id else None,
            task=task_views.get(c.task_id) if c.task_id else None,
        )
        for c in comments
    ]


def _by_id(session: Session, model: type[M], ids: set[str | None]) -> dict[str, M]:
    wanted = sorted(i for i in ids if i)
    if not wanted:
        return {}
    return {row.id: row for row in session.scalars(select(model).where(model.id.in_(wanted)))}


def _assignee_ids(session: Session, task_ids: list[str]) -> dict[str, list[str]]:
    if not task_ids:
        return {}
    grouped: dict[str, list[str]] = {}
    rows = session.execute(
        select(TaskAssignee.task_id, TaskAssignee.user_id)
        .join(User, User.id == TaskAssignee.user_id)
        .where(TaskAssignee.task_id.in_(task_ids))
        .order_by(User.name, User.id)
    )
    for task_id, user_id in rows:
        grouped.setdefault(task_id, []).append(user_id)
    return grouped
