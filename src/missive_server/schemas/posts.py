"""Post wire objects (spec 1A, Post)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from missive_server.db.models import Post, User
from missive_server.schemas.base import WireModel


@dataclass(slots=True)
class PostView:
    post: Post
    #: The token owner who created it: the default ``username`` / ``username_icon`` (spec 2.10.1).
    author: User | None = None


class NotificationOut(WireModel):
    title: str | None = None
    body: str | None = None


class PostOut(WireModel):
    id: str
    created_at: int
    username: str | None
    username_icon: str | None
    notification: NotificationOut | None
    #: Attachment blocks as posted (color, author_*, title, text, fields, footer, timestamp ...).
    attachments: list[dict[str, Any]]
    text: str | None = None
    markdown: str | None = None


class PostsEnvelope(WireModel):
    posts: list[PostOut]


def render_post(view: PostView) -> dict[str, Any]:
    p, author = view.post, view.author
    wire: dict[str, Any] = {
        "id": p.id,
        "created_at": p.created_at,
        "username": p.username or (author.name if author else None),
        "username_icon": p.username_icon or (author.avatar_url if author else None),
        "notification": p.notification,
        "attachments": p.attachments,
    }
    # Not in the doc example; emitting them when set is harmless (spec 1A, Post).
    if p.text is not None:
        wire["text"] = p.text
    if p.markdown is not None:
        wire["markdown"] = p.markdown
    return wire
