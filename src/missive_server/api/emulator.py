"""The ``/_emulator/*`` control plane, mounted only in emulator mode (``MISSIVE_EMULATOR`` or
``serve --emulator``): our own extension for local development and test suites, never part of
Missive's API. No token: the emulator is meant for loopback, like Mailpit's UI.

``GET /_emulator/outbox`` shows what the server sent or captured (mail, channel messages) with the
exact bytes; ``GET /_emulator/outbox/{id}/raw`` serves one message as ``message/rfc822``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import Field
from starlette.responses import Response

from missive_server.api import emulator_control, emulator_deliveries, emulator_faults
from missive_server.api.deps import DbSession
from missive_server.api.responses import envelope
from missive_server.api.routing import ControlPlaneRoute
from missive_server.errors import NotFound
from missive_server.schemas.base import WireModel
from missive_server.services import outbox
from missive_server.services.outbox import OutboxEntry

router = APIRouter(prefix="/_emulator", route_class=ControlPlaneRoute, tags=["Emulator"])
router.include_router(emulator_deliveries.router)
router.include_router(emulator_control.router)
router.include_router(emulator_faults.router)

Participant = dict[str, Any]
OutboxKind = Literal["mail", "channel", "send_draft"]
OutboxStatus = Literal["pending", "sent", "failed", "cancelled"]
ItemId = Annotated[str, Path(description="An outbox item id, or a unique prefix of it")]


class OutboxEntryOut(WireModel):
    id: str
    message_id: str | None
    conversation: str | None
    kind: str
    from_: Participant | None = Field(alias="from")
    to: list[Participant]
    cc: list[Participant]
    bcc: list[Participant]
    subject: str | None
    status: str
    attempts: int
    next_attempt_at: int
    last_error: str | None
    captured: bool
    created_at: int
    sent_at: int | None
    raw: str | None = Field(description="The exact bytes sent (RFC 5322 for mail), as text")


class OutboxEnvelope(WireModel):
    outbox: list[OutboxEntryOut]


@router.get(
    "/outbox",
    response_model=OutboxEnvelope,
    summary="What the server sent or captured, newest first (emulator only)",
)
async def list_outbox(
    session: DbSession,
    limit: Annotated[int, Query(ge=1, le=500, description="Most rows returned")] = 50,
    kind: Annotated[OutboxKind | None, Query(description="Only this kind")] = None,
    status: Annotated[OutboxStatus | None, Query(description="Only this status")] = None,
) -> Response:
    entries = outbox.list_outbox(session, limit=limit, kind=kind, status=status)
    return envelope("outbox", [render_outbox_entry(e) for e in entries])


@router.get(
    "/outbox/{item_id}/raw",
    response_class=Response,
    summary="The exact message sent or captured, as message/rfc822 (emulator only)",
    responses={200: {"content": {"message/rfc822": {}}}},
)
async def get_outbox_raw(item_id: ItemId, session: DbSession) -> Response:
    item = outbox.find_outbox_entry(session, item_id=item_id).item
    if item.raw is None:
        raise NotFound(f"Outbox item with id '{item_id}' has no message yet ({item.status})")
    media_type = "message/rfc822" if item.kind == "mail" else "application/json"
    return Response(item.raw, media_type=media_type)


def render_outbox_entry(entry: OutboxEntry) -> dict[str, Any]:
    item, message = entry.item, entry.message
    return {
        "id": item.id,
        "message_id": item.message_id,
        "conversation": item.conversation_id or (message.conversation_id if message else None),
        "kind": item.kind,
        "from": message.from_field if message else None,
        "to": message.to_fields if message else [],
        "cc": message.cc_fields if message else [],
        "bcc": message.bcc_fields if message else [],
        "subject": message.subject if message else None,
        "status": item.status,
        "attempts": item.attempts,
        "next_attempt_at": item.next_attempt_at,
        "last_error": item.last_error,
        "captured": item.captured,
        "created_at": item.created_at,
        "sent_at": item.sent_at,
        "raw": item.raw.decode("utf-8", "replace") if item.raw is not None else None,
    }
