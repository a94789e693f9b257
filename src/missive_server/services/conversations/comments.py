"""Comments: the team's discussion inside a conversation (spec 2.5.5)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from missive_server.auth import Principal
from missive_server.db.models import Attachment, Comment, Conversation, Task
from missive_server.ids import new_id
from missive_server.pagination import CursorPage
from missive_server.schemas.comments import CommentView
from missive_server.services import events
from missive_server.services.conversations import conversation_state, search_terms
from missive_server.services.conversations.conversations import get_visible_conversation
from missive_server.services.conversations.messages import cursor_entities, users_by_id
from missive_server.services.conversations.tasks import task_views

M = TypeVar("M", Attachment, Task)


def create_comment(
    session: Session,
    conversation: Conversation,
    *,
    author_id: str | None,
    body: str,
    now: int,
    mentions: Sequence[dict[str, object]] = (),
    task_id: str | None = None,
    attachment_id: str | None = None,
) -> Comment:
    """Add a comment (seed, task subtasks, the web UI): activity moves to ``now`` and the
    ``new_comment`` hooks fire when the transaction commits. Flushes."""
    comment = Comment(
        id=new_id(),
        conversation_id=conversation.id,
        author_id=author_id,
        body=body,
        mentions=list(mentions),
        task_id=task_id,
        attachment_id=attachment_id,
        created_at=now,
    )
    session.add(comment)
    conversation_state.touch(session, conversation, now)
    session.flush()
    search_terms.index_comment(session, comment)
    events.record(session, event="new_comment", conversation=conversation, now=now, comment=comment)
    return comment


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
    tasks = task_views(session, list(_by_id(session, Task, {c.task_id for c in comments}).values()))
    users = users_by_id(session, {c.author_id for c in comments if c.author_id})
    by_task = {view.task.id: view for view in tasks}
    return [
        CommentView(
            comment=c,
            author=users.get(c.author_id) if c.author_id else None,
            attachment=attachments.get(c.attachment_id) if c.attachment_id else None,
            task=by_task.get(c.task_id) if c.task_id else None,
        )
        for c in comments
    ]


def _by_id(session: Session, model: type[M], ids: set[str | None]) -> dict[str, M]:
    wanted = sorted(i for i in ids if i)
    if not wanted:
        return {}
    return {row.id: row for row in session.scalars(select(model).where(model.id.in_(wanted)))}
