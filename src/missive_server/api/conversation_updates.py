"""PATCH /v1/conversations/:ids (spec 2.5.3) and POST /v1/conversations/:id/merge (spec 2.5.8)."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter
from starlette.responses import Response

from missive_server.api.deps import Context
from missive_server.api.responses import envelope
from missive_server.api.routing import UnitOfWorkRoute
from missive_server.errors import BadRequest
from missive_server.ids import split_ids
from missive_server.schemas.conversation_actions import (
    ConversationActions,
    ConversationPatchIn,
    ConversationsPatchBody,
    MergeIn,
)
from missive_server.schemas.conversations import ConversationsEnvelope, render_conversation
from missive_server.services.conversations import conversation_actions, merges
from missive_server.services.conversations.conversation_views import load_views

router = APIRouter(route_class=UnitOfWorkRoute, tags=["Conversations"])

MISMATCH = "'conversations' must hold exactly one object per id in the path, each with its 'id'"


@router.patch(
    "/conversations/{ids}",
    response_model=ConversationsEnvelope,
    summary="Update conversations silently (state, team, users, assignees, labels, subject, color)",
)
async def update_conversations(ids: str, body: ConversationsPatchBody, ctx: Context) -> Response:
    changes = pair_with_path(split_ids(ids), body.conversations)
    updated = conversation_actions.update_conversations(
        ctx.session, actor=ctx.actor, changes=changes, now=ctx.clock.now()
    )
    views = load_views(ctx.session, updated, actor=ctx.actor)
    rendered = [render_conversation(v, public_url=ctx.settings.public_base) for v in views]
    return envelope("conversations", rendered)


def pair_with_path(
    path_ids: Sequence[str], items: Sequence[ConversationPatchIn]
) -> list[tuple[str, ConversationActions]]:
    """One object per path id, in path order; a lone object may omit its ``id``."""
    if len(path_ids) == 1 and len(items) == 1 and items[0].id is None:
        return [(path_ids[0], items[0].to_actions())]
    by_id = {(item.id or "").strip().lower(): item for item in items}
    if len(by_id) != len(items) or set(by_id) != set(path_ids):
        raise BadRequest(MISMATCH)
    return [(cid, by_id[cid].to_actions()) for cid in path_ids]


@router.post(
    "/conversations/{conversation_id}/merge",
    response_model=ConversationsEnvelope,
    summary="Merge a conversation into another (the survivor is returned)",
)
async def merge_conversation(conversation_id: str, body: MergeIn, ctx: Context) -> Response:
    survivor = merges.merge_conversations(
        ctx.session,
        actor=ctx.actor,
        source_id=conversation_id,
        target_id=body.target,
        subject=body.subject,
        now=ctx.clock.now(),
    )
    views = load_views(ctx.session, [survivor], actor=ctx.actor)
    return envelope(
        "conversations", [render_conversation(views[0], public_url=ctx.settings.public_base)]
    )
