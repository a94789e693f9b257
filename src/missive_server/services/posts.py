"""Posts: content integrations inject into conversations (spec 2.5.7, 2.10)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from missive_server.auth import Principal
from missive_server.db.models import Post
from missive_server.pagination import CursorPage
from missive_server.schemas.posts import PostView
from missive_server.services.conversations import get_visible_conversation
from missive_server.services.messages import cursor_entities, users_by_id


def list_posts(
    session: Session, *, actor: Principal, conversation_id: str, page: CursorPage
) -> list[PostView]:
    """Newest ``created_at`` first (spec 2.5.7)."""
    conversation = get_visible_conversation(session, actor=actor, conversation_id=conversation_id)
    stmt = select(Post.id, Post.created_at, Post).where(Post.conversation_id == conversation.id)
    posts = cursor_entities(session, stmt, timestamp=Post.created_at, tiebreak=Post.id, page=page)
    authors = users_by_id(session, {p.author_id for p in posts if p.author_id})
    return [
        PostView(post=p, author=authors.get(p.author_id) if p.author_id else None) for p in posts
    ]
