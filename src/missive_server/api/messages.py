"""Messages (spec 2.7): record an incoming custom-channel message, get one or several by id,
find by email Message-ID."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from missive_server.api.deps import Context
from missive_server.api.responses import envelope
from missive_server.api.routing import UnitOfWorkRoute
from missive_server.ids import split_ids
from missive_server.schemas.channel_messages import MessageCreatedEnvelope, MessagesCreateBody
from missive_server.schemas.conversations import ConversationView, render_conversation
from missive_server.schemas.messages import (
    MessageEnvelope,
    MessagesEnvelope,
    MessageView,
    render_full_message,
)
from missive_server.services.conversations import messages
from missive_server.services.inbound import channel_messages

router = APIRouter(route_class=UnitOfWorkRoute, tags=["Messages"])

EmailMessageId = Annotated[
    str, Query(description="The Message-ID header value; chevrons optional (spec 2.7.3)")
]
MessageIds = Annotated[str, Path(description="One id, or several separated by commas")]


@router.get(
    "/messages",
    response_model=MessagesEnvelope,
    summary="Find messages by email Message-ID (latest 10, newest first)",
)
async def find_messages(ctx: Context, email_message_id: EmailMessageId) -> Response:
    found = messages.find_by_email_message_id(
        ctx.session, actor=ctx.actor, email_message_id=email_message_id
    )
    return envelope("messages", _render(found, ctx.settings.public_base))


@router.get(
    "/messages/{message_ids}",
    response_model=MessageEnvelope,
    summary="Get a message (an object), or several comma-separated ids (an array)",
)
async def get_messages(message_ids: MessageIds, ctx: Context) -> Response:
    ids = split_ids(message_ids)
    rendered = _render(
        messages.get_messages(ctx.session, actor=ctx.actor, ids=ids), ctx.settings.public_base
    )
    # Spec 2.7.2: the batch form (any comma in the path) answers an array, a single id an object.
    return envelope("messages", rendered if "," in message_ids else rendered[0])


@router.post(
    "/messages",
    response_model=MessageCreatedEnvelope,
    status_code=201,
    summary="Record an incoming message in a custom channel, optionally acting on its conversation",
)
async def create_message(body: MessagesCreateBody, ctx: Context) -> Response:
    message = channel_messages.create_channel_message(
        ctx.session, actor=ctx.actor, request=body.messages.to_request(), now=ctx.clock.now()
    )
    # Missive documents no response body (spec 2.7.1): ours mirrors drafts and posts.
    return envelope("messages", {"id": message.id, "conversation": message.conversation_id}, 201)


def _render(
    found: list[tuple[MessageView, ConversationView]], public_url: str
) -> list[dict[str, Any]]:
    conversations: dict[str, dict[str, Any]] = {}
    for _, view in found:
        cid = view.conversation.id
        if cid not in conversations:
            conversations[cid] = render_conversation(view, public_url=public_url)
    return [
        render_full_message(
            message, conversation=conversations[view.conversation.id], public_url=public_url
        )
        for message, view in found
    ]
