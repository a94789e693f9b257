"""Posts: content integrations inject into conversations (spec 2.5.7, 2.10).

A post is the visible trace of the conversation actions that came with it (spec 1B, 2.10):
they are applied as the post is written, and the post itself is the record; no separate
activity rows are kept.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from missive_server.auth import Principal
from missive_server.db.models import Conversation, ConversationUser, Post
from missive_server.errors import Forbidden, not_found
from missive_server.ids import new_id
from missive_server.pagination import CursorPage
from missive_server.schemas.conversation_actions import ConversationActions
from missive_server.schemas.posts import PostContent, PostView
from missive_server.services import events
from missive_server.services.conversations import conversation_state, search_terms
from missive_server.services.conversations.conversation_targets import open_target
from missive_server.services.conversations.conversations import get_visible_conversation
from missive_server.services.conversations.messages import (
    cursor_entities,
    remember_references,
    users_by_id,
)

DELETE_FORBIDDEN = (
    "Only owners and admins of the organization can delete posts in its conversations"
)


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


def post_actions(actions: ConversationActions, *, keep_closed: bool) -> ConversationActions:
    """Translate the post meaning of ``reopen`` (spec 2.10.1) into ``ConversationActions``.

    For posts, ``reopen: true`` *keeps* a closed conversation closed and a post normally
    reopens it; in ``ConversationActions`` (PATCH's meaning, spec 2.5.3) ``reopen`` means
    "move Closed to Inbox for everyone". ``close`` wins over both.
    """
    actions.reopen = not keep_closed and not actions.close
    return actions


def create_post(
    session: Session,
    *,
    actor: Principal,
    content: PostContent,
    conversation_id: str | None,
    references: Sequence[str] | None,
    actions: ConversationActions,
    now: int,
    rename_existing: bool = False,
) -> Post:
    """Write a post into the conversation found by id or references (or a new one), apply
    ``actions`` (already translated by ``post_actions``) and move ``last_activity_at``.

    ``actions.subject`` names a new conversation; an existing one is renamed only with
    ``rename_existing`` (the post's ``update_existing_conversation_subject``)."""
    target = open_target(
        session,
        actor=actor,
        conversation_id=conversation_id,
        references=references,
        actions=actions,
        now=now,
        rename_existing=rename_existing,
    )
    conversation = target.conversation
    if content.conversation_icon is not None:
        conversation.icon_url = content.conversation_icon
    post = Post(
        id=new_id(),
        conversation_id=conversation.id,
        author_id=actor.user_id,
        username=content.username,
        username_icon=content.username_icon,
        conversation_icon=content.conversation_icon,
        notification=content.notification,
        text=content.text,
        markdown=content.markdown,
        attachments=content.attachments,
        created_at=now,
    )
    session.add(post)
    session.flush()
    search_terms.index_post(session, post)
    remember_references(session, conversation.id, references)
    conversation_state.touch(session, conversation, now)
    # No Missive webhook announces a post, but an open inbox shows it live.
    events.note_live(session, event="new_post", conversation=conversation, now=now)
    session.flush()
    return post


def delete_post(session: Session, *, actor: Principal, post_id: str) -> None:
    """Posts of conversations the actor cannot see are unknown (404). In a conversation that
    belongs to an organization only its owners and admins may delete (spec 2.10.2).
    ``last_activity_at`` stays where it is."""
    found = session.execute(
        select(Post, Conversation.organization_id)
        .join(Conversation, Conversation.id == Post.conversation_id)
        .join(
            ConversationUser,
            (ConversationUser.conversation_id == Post.conversation_id)
            & (ConversationUser.user_id == actor.user_id),
        )
        .where(Post.id == post_id)
    ).first()
    if found is None:
        raise not_found("Post", post_id)
    post, organization_id = found
    if organization_id is not None and not actor.is_admin(organization_id):
        raise Forbidden(DELETE_FORBIDDEN)
    session.delete(post)
    session.flush()
