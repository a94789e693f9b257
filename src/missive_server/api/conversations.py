"""Conversations (spec 2.5): list mailboxes, get one."""

from __future__ import annotations

from dataclasses import fields
from typing import Annotated, Any, get_type_hints

from fastapi import APIRouter, Query
from pydantic import create_model
from starlette.responses import Response

from missive_server.api.deps import Context
from missive_server.api.params import Limit, Until
from missive_server.api.responses import envelope
from missive_server.api.routing import UnitOfWorkRoute
from missive_server.pagination import cursor_page
from missive_server.schemas.conversations import ConversationsEnvelope, render_conversation
from missive_server.services.conversations import conversations
from missive_server.services.conversations.conversation_views import load_views
from missive_server.services.conversations.conversations import MailboxFilters

router = APIRouter(route_class=UnitOfWorkRoute, tags=["Conversations"])


#: The mailbox query parameters validated as one model, made from ``MailboxFilters``' fields:
#: seventeen separate parameters cost FastAPI seventeen validations per request (issue 13).
#: Each is still its own documented query parameter in the OpenAPI document.
_HINTS = get_type_hints(MailboxFilters)
_FIELDS: dict[str, Any] = {f.name: (_HINTS[f.name], f.default) for f in fields(MailboxFilters)}
MailboxQuery = create_model("MailboxQuery", **_FIELDS)


Filters = Annotated[MailboxQuery, Query()]


@router.get("/conversations", response_model=ConversationsEnvelope, summary="List conversations")
async def list_conversations(
    ctx: Context, limit: Limit = None, until: Until = None, *, filters: Filters
) -> Response:
    page = cursor_page(limit, until, default=25, maximum=50)
    found = conversations.list_conversations(
        ctx.session,
        actor=ctx.actor,
        filters=MailboxFilters(**dict(filters)),
        page=page,
    )
    views = load_views(ctx.session, found, actor=ctx.actor)
    return envelope(
        "conversations",
        [render_conversation(v, public_url=ctx.settings.public_base) for v in views],
    )


@router.get(
    "/conversations/{conversation_id}",
    response_model=ConversationsEnvelope,
    summary="Get a conversation (an array of one; merged ids resolve to the survivor)",
)
async def get_conversation(conversation_id: str, ctx: Context) -> Response:
    found = conversations.read_visible_conversation(
        ctx.session, actor=ctx.actor, conversation_id=conversation_id
    )
    views = load_views(ctx.session, [found], actor=ctx.actor)
    return envelope(
        "conversations", [render_conversation(views[0], public_url=ctx.settings.public_base)]
    )
