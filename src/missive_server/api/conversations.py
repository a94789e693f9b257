"""Conversations (spec 2.5): list mailboxes, get one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from starlette.responses import Response

from missive_server.api.deps import Context
from missive_server.api.params import Limit, Until
from missive_server.api.responses import envelope
from missive_server.api.routing import UnitOfWorkRoute
from missive_server.pagination import cursor_page
from missive_server.schemas.conversations import ConversationsEnvelope, render_conversation
from missive_server.services.conversations import conversations
from missive_server.services.conversations.conversation_views import load_views

router = APIRouter(route_class=UnitOfWorkRoute, tags=["Conversations"])


class MailboxQuery(BaseModel):
    """The mailbox query parameters, validated as one model: seventeen separate parameters cost
    FastAPI seventeen validations per request (issue 13). Each is still its own documented query
    parameter in the OpenAPI document."""

    inbox: bool = False
    all: bool = False
    assigned: bool = False
    closed: bool = False
    snoozed: bool = False
    flagged: bool = False
    trashed: bool = False
    junked: bool = False
    drafts: bool = False
    shared_label: str | None = None
    team_inbox: str | None = None
    team_closed: str | None = None
    team_all: str | None = None
    organization: str | None = None
    email: str | None = None
    domain: str | None = None
    contact_organization: str | None = None

    def filters(self) -> conversations.MailboxFilters:
        return conversations.MailboxFilters(**self.__dict__)


Filters = Annotated[MailboxQuery, Query()]


@router.get("/conversations", response_model=ConversationsEnvelope, summary="List conversations")
async def list_conversations(
    ctx: Context, limit: Limit = None, until: Until = None, *, filters: Filters
) -> Response:
    page = cursor_page(limit, until, default=25, maximum=50)
    found = conversations.list_conversations(
        ctx.session, actor=ctx.actor, filters=filters.filters(), page=page
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
