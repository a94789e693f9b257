"""POST /v1/drafts and DELETE /v1/drafts/:id (spec 2.6)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from missive_server.api.deps import Context
from missive_server.api.responses import envelope, wire
from missive_server.api.routing import UnitOfWorkRoute
from missive_server.schemas.drafts import DraftCreatedEnvelope, DraftsCreateBody, render_draft
from missive_server.schemas.posts import DeletedOut
from missive_server.services.outbox import RetryPolicy
from missive_server.services.writing import drafts

router = APIRouter(route_class=UnitOfWorkRoute, tags=["Drafts"])


@router.post(
    "/drafts",
    response_model=DraftCreatedEnvelope,
    status_code=201,
    summary="Create a draft (email, SMS, WhatsApp, Messenger, Instagram, Live Chat, custom); "
    "send it now (send) or later (send_at)",
)
async def create_draft(body: DraftsCreateBody, ctx: Context) -> Response:
    draft_in = body.drafts
    view = drafts.create_draft(
        ctx.session,
        actor=ctx.actor,
        request=draft_in.to_request(),
        actions=draft_in.to_actions(),
        now=ctx.clock.now(),
        policy=RetryPolicy(
            ctx.settings.delivery_max_attempts, ctx.settings.delivery_backoff_seconds
        ),
    )
    rendered = render_draft(view, public_url=ctx.settings.public_base)
    created = {"id": view.message.id, "conversation": view.message.conversation_id, **rendered}
    return envelope("drafts", created, 201)


@router.delete(
    "/drafts/{draft_id}",
    response_model=DeletedOut,
    summary="Delete a draft (and cancel its scheduled send)",
)
async def delete_draft(draft_id: str, ctx: Context) -> Response:
    drafts.delete_draft(ctx.session, actor=ctx.actor, draft_id=draft_id, now=ctx.clock.now())
    # Missive documents no body; ``{}`` suits clients that always parse JSON (spec 1.4).
    return wire({})
