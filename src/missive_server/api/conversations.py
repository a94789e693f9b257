"""Conversations (spec 2.5): list mailboxes, get one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from missive_server.api.deps import AppSettings, CurrentUser, DbSession
from missive_server.api.params import Limit, Until
from missive_server.api.responses import envelope
from missive_server.api.routing import UnitOfWorkRoute
from missive_server.pagination import cursor_page
from missive_server.schemas.conversations import ConversationsEnvelope, render_conversation
from missive_server.services.conversations import conversations
from missive_server.services.conversations.conversation_views import load_views

router = APIRouter(route_class=UnitOfWorkRoute, tags=["Conversations"])

Flag = Annotated[bool, Query()]
Id = Annotated[str | None, Query()]


async def _filters(
    inbox: Flag = False,
    all: Flag = False,
    assigned: Flag = False,
    closed: Flag = False,
    snoozed: Flag = False,
    flagged: Flag = False,
    trashed: Flag = False,
    junked: Flag = False,
    drafts: Flag = False,
    shared_label: Id = None,
    team_inbox: Id = None,
    team_closed: Id = None,
    team_all: Id = None,
    organization: Id = None,
    email: Id = None,
    domain: Id = None,
    contact_organization: Id = None,
) -> conversations.MailboxFilters:
    return conversations.MailboxFilters(
        inbox=inbox,
        all=all,
        assigned=assigned,
        closed=closed,
        snoozed=snoozed,
        flagged=flagged,
        trashed=trashed,
        junked=junked,
        drafts=drafts,
        shared_label=shared_label,
        team_inbox=team_inbox,
        team_closed=team_closed,
        team_all=team_all,
        organization=organization,
        email=email,
        domain=domain,
        contact_organization=contact_organization,
    )


Filters = Annotated[conversations.MailboxFilters, Depends(_filters)]


@router.get("/conversations", response_model=ConversationsEnvelope, summary="List conversations")
async def list_conversations(
    session: DbSession,
    actor: CurrentUser,
    settings: AppSettings,
    filters: Filters,
    limit: Limit = None,
    until: Until = None,
) -> Response:
    page = cursor_page(limit, until, default=25, maximum=50)
    found = conversations.list_conversations(session, actor=actor, filters=filters, page=page)
    views = load_views(session, found, actor=actor)
    return envelope(
        "conversations", [render_conversation(v, public_url=settings.public_base) for v in views]
    )


@router.get(
    "/conversations/{conversation_id}",
    response_model=ConversationsEnvelope,
    summary="Get a conversation (an array of one; merged ids resolve to the survivor)",
)
async def get_conversation(
    conversation_id: str, session: DbSession, actor: CurrentUser, settings: AppSettings
) -> Response:
    found = conversations.read_visible_conversation(
        session, actor=actor, conversation_id=conversation_id
    )
    views = load_views(session, [found], actor=actor)
    return envelope(
        "conversations", [render_conversation(views[0], public_url=settings.public_base)]
    )
