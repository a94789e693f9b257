"""Comment wire objects (spec 1A, Comment) with their embedded task."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from missive_server.db.models import Attachment, Comment, User
from missive_server.schemas.attachments import AttachmentOut, render_attachment
from missive_server.schemas.base import WireModel
from missive_server.schemas.conversations import TeamRef
from missive_server.schemas.tasks import TaskView, render_team_ref
from missive_server.schemas.users import UserRef, render_user_ref


@dataclass(slots=True)
class CommentView:
    comment: Comment
    author: User | None = None
    attachment: Attachment | None = None
    task: TaskView | None = None


class MentionOut(WireModel):
    id: str
    index: int
    length: int


class CommentTaskOut(WireModel):
    description: str | None
    state: str
    due_at: int | None
    started_at: int | None
    closed_at: int | None
    assignees: list[UserRef]
    team: TeamRef | None


class CommentOut(WireModel):
    id: str
    body: str
    created_at: int
    mentions: list[MentionOut]
    author: UserRef | None
    attachment: AttachmentOut | None
    task: CommentTaskOut | None


class CommentsEnvelope(WireModel):
    comments: list[CommentOut]


def render_comment(view: CommentView, *, public_url: str) -> dict[str, Any]:
    c = view.comment
    return {
        "id": c.id,
        "body": c.body,
        "created_at": c.created_at,
        "mentions": c.mentions,
        "author": render_user_ref(view.author) if view.author else None,
        "attachment": (
            render_attachment(view.attachment, public_url=public_url) if view.attachment else None
        ),
        "task": render_comment_task(view.task) if view.task else None,
    }


def render_comment_task(view: TaskView) -> dict[str, Any]:
    # The spec's example shows the task's one-line title under "description" (spec 1A, Comment;
    # compare the POST /v1/tasks example), so the title is what we emit there.
    t = view.task
    return {
        "description": t.title,
        "state": t.state,
        "due_at": t.due_at,
        "started_at": t.started_at,
        "closed_at": t.closed_at,
        "assignees": [render_user_ref(u) for u in view.assignees],
        "team": render_team_ref(view.team),
    }
