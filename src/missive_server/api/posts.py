"""POST /v1/posts and DELETE /v1/posts/:id (spec 2.10)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from missive_server.api.deps import Context
from missive_server.api.responses import envelope, wire
from missive_server.api.routing import UnitOfWorkRoute
from missive_server.schemas.base import ErrorEnvelope
from missive_server.schemas.posts import DeletedOut, PostCreatedEnvelope, PostsCreateBody
from missive_server.services.writing import posts

router = APIRouter(route_class=UnitOfWorkRoute, tags=["Posts"])

FORBIDDEN: dict[int | str, dict[str, Any]] = {
    403: {
        "model": ErrorEnvelope,
        "description": "In an organization's conversation, only its owners and admins",
    }
}


@router.post(
    "/posts",
    response_model=PostCreatedEnvelope,
    status_code=201,
    summary="Post into a new or existing conversation, optionally acting on it",
)
async def create_post(body: PostsCreateBody, ctx: Context) -> Response:
    post_in = body.posts
    actions = posts.post_actions(post_in.to_actions(), keep_closed=bool(post_in.reopen))
    post = posts.create_post(
        ctx.session,
        actor=ctx.actor,
        content=post_in.to_content(),
        conversation_id=post_in.conversation,
        references=post_in.references,
        actions=actions,
        now=ctx.clock.now(),
        rename_existing=bool(post_in.update_existing_conversation_subject),
    )
    return envelope("posts", {"id": post.id, "conversation": post.conversation_id}, 201)


@router.delete(
    "/posts/{post_id}",
    response_model=DeletedOut,
    responses=FORBIDDEN,
    summary="Delete a post",
)
async def delete_post(post_id: str, ctx: Context) -> Response:
    posts.delete_post(ctx.session, actor=ctx.actor, post_id=post_id)
    # Missive documents no body; ``{}`` suits clients that always parse JSON (spec 1.4).
    return wire({})
