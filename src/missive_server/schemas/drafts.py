"""Draft wire objects (spec 1A, Draft — list form)."""

from __future__ import annotations

from typing import Any

from missive_server.schemas.attachments import AttachmentOut, render_attachment
from missive_server.schemas.base import WireModel
from missive_server.schemas.messages import MessageView, Participant
from missive_server.schemas.users import UserRef, render_user_ref


class DraftOut(WireModel):
    id: str
    subject: str | None
    draft: bool
    preview: str | None
    type: str
    delivered_at: int | None
    updated_at: int
    created_at: int
    from_field: Participant | None
    to_fields: list[Participant]
    cc_fields: list[Participant]
    bcc_fields: list[Participant]
    reply_to_fields: list[Participant]
    attachments: list[AttachmentOut]
    author: UserRef | None
    #: Extension: scheduled drafts ("send later") carry their send time.
    send_at: int | None = None


class DraftsEnvelope(WireModel):
    drafts: list[DraftOut]


def render_draft(view: MessageView, *, public_url: str) -> dict[str, Any]:
    d = view.message
    wire: dict[str, Any] = {
        "id": d.id,
        "subject": d.subject,
        "draft": True,
        "preview": d.preview,
        "type": d.type,
        "delivered_at": d.delivered_at,
        "updated_at": d.updated_at,
        "created_at": d.created_at,
        "from_field": d.from_field,
        "to_fields": d.to_fields,
        "cc_fields": d.cc_fields,
        "bcc_fields": d.bcc_fields,
        "reply_to_fields": d.reply_to_fields,
        "attachments": [render_attachment(a, public_url=public_url) for a in view.attachments],
        "author": render_user_ref(view.author) if view.author else None,
    }
    if d.send_at is not None:
        wire["send_at"] = d.send_at
    return wire
