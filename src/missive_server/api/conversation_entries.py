"""What a conversation holds (spec 2.5.4-2.5.7): messages, comments, drafts and posts.

All four are timestamp-cursor lists (spec 1.7): newest first, ``limit`` 10 at most, inclusive
``until``, and items sharing the boundary timestamp kept on one page.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from missive_server.api.deps import Context
from missive_server.api.params import Limit, Until
from missive_server.api.responses import envelope
from missive_server.api.routing import UnitOfWorkRoute
from missive_server.pagination import CursorPage, cursor_page
from missive_server.schemas.comments import CommentsEnvelope, render_comment
from missive_server.schemas.drafts import DraftsEnvelope, render_draft
from missive_server.schemas.messages import ConversationMessagesEnvelope, render_message
from missive_server.schemas.posts import PostsEnvelope, render_post
from missive_server.services.conversations import comments, messages
from missive_server.services.writing import drafts, posts

router = APIRouter(route_class=UnitOfWorkRoute, tags=["Conversations"])


def _page(limit: int | None, until: int | None) -> CursorPage:
    return cursor_page(limit, until, default=10, maximum=10)


@router.get(
    "/conversations/{conversation_id}/messages",
    response_model=ConversationMessagesEnvelope,
    summary="List a conversation's messages (newest delivered_at first, no drafts)",
)
async def list_conversation_messages(
    conversation_id: str, ctx: Context, limit: Limit = None, until: Until = None
) -> Response:
    found = messages.list_conversation_messages(
        ctx.session, actor=ctx.actor, conversation_id=conversation_id, page=_page(limit, until)
    )
    return envelope(
        "messages", [render_message(v, public_url=ctx.settings.public_base) for v in found]
    )


@router.get(
    "/conversations/{conversation_id}/comments",
    response_model=CommentsEnvelope,
    summary="List a conversation's comments (newest created_at first)",
)
async def list_conversation_comments(
    conversation_id: str, ctx: Context, limit: Limit = None, until: Until = None
) -> Response:
    found = comments.list_comments(
        ctx.session, actor=ctx.actor, conversation_id=conversation_id, page=_page(limit, until)
    )
    return envelope(
        "comments", [render_comment(v, public_url=ctx.settings.public_base) for v in found]
    )


@router.get(
    "/conversations/{conversation_id}/drafts",
    response_model=DraftsEnvelope,
    summary="List a conversation's drafts (newest created_at first; until compares created_at)",
)
async def list_conversation_drafts(
    conversation_id: str, ctx: Context, limit: Limit = None, until: Until = None
) -> Response:
    found = drafts.list_drafts(
        ctx.session, actor=ctx.actor, conversation_id=conversation_id, page=_page(limit, until)
    )
    return envelope("drafts", [render_draft(v, public_url=ctx.settings.public_base) for v in found])


@router.get(
    "/conversations/{conversation_id}/posts",
    response_model=PostsEnvelope,
    summary="List a conversation's posts (newest created_at first)",
)
async def list_conversation_posts(
    conversation_id: str, ctx: Context, limit: Limit = None, until: Until = None
) -> Response:
    found = posts.list_posts(
        ctx.session, actor=ctx.actor, conversation_id=conversation_id, page=_page(limit, until)
    )
    return envelope("posts", [render_post(v) for v in found])
