"""Message wire objects (spec 1A): the list form of ``GET /v1/conversations/:id/messages`` and
the full form of ``GET /v1/messages/:id``.

Email messages render exactly Missive's documented keys. Other channels (SMS, WhatsApp, custom)
also carry ``external_id``, ``account_author``, ``account_recipients`` and ``author``, as real
Missive payloads do (spec 1A, Message list form), and outgoing messages carry our
``delivery_status`` / ``delivery_error`` extension once a delivery was attempted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from missive_server.db.models import Attachment, Message, User
from missive_server.schemas.attachments import AttachmentOut, AttachmentRow, render_attachment
from missive_server.schemas.base import WireModel
from missive_server.schemas.conversations import ConversationOut
from missive_server.schemas.users import UserRef, UserRefRow, render_user_ref

#: A participant as stored: ``{"name", "address"}`` for email, ``{"id", "name", "username"}``
#: or ``{"name", "phone_number"}`` for other channels (spec 1A).
Participant = dict[str, Any]


class MessageRow(NamedTuple):
    """A ``messages`` row as reads see it (``services.conversations.messages`` reads it with
    Core: building ORM entities cost a message read more than its statements, issue 13);
    writers keep the ORM entity, which renders alike."""

    id: str
    conversation_id: str
    author_id: str | None
    type: str
    draft: bool
    subject: str | None
    preview: str | None
    body: str | None
    from_field: dict[str, Any] | None
    to_fields: list[Any]
    cc_fields: list[Any]
    bcc_fields: list[Any]
    reply_to_fields: list[Any]
    email_message_id: str | None
    in_reply_to: list[Any]
    references: list[Any]
    external_id: str | None
    delivered_at: int | None
    created_at: int
    updated_at: int
    send_at: int | None
    delivery_status: str | None
    delivery_error: str | None


@dataclass(slots=True)
class MessageView:
    """A message (or draft) with what its wire form embeds, loaded for a whole page at once."""

    message: Message | MessageRow
    attachments: list[Attachment | AttachmentRow] = field(default_factory=list)
    author: User | UserRefRow | None = None


class _MessageFields(WireModel):
    id: str
    subject: str | None
    preview: str | None
    type: str
    delivered_at: int | None
    updated_at: int
    created_at: int
    email_message_id: str | None
    in_reply_to: list[str]
    references: list[str]
    from_field: Participant | None
    to_fields: list[Participant]
    cc_fields: list[Participant]
    bcc_fields: list[Participant]
    reply_to_fields: list[Participant]
    attachments: list[AttachmentOut]
    # Non-email channels only.
    external_id: str | None = None
    account_author: Participant | None = None
    account_recipients: list[Participant] | None = None
    author: UserRef | None = None
    # Extension: outgoing messages once a delivery was attempted.
    delivery_status: str | None = None
    delivery_error: str | None = None


class MessageOut(_MessageFields):
    draft: bool


class MessageFullOut(_MessageFields):
    """No ``draft`` key in the full form (spec 1A)."""

    body: str | None
    conversation: ConversationOut


class ConversationMessagesEnvelope(WireModel):
    messages: list[MessageOut]


class MessageEnvelope(WireModel):
    """One id -> an object; several comma-separated ids -> an array (spec 2.7.2)."""

    messages: MessageFullOut | list[MessageFullOut]


class MessagesEnvelope(WireModel):
    messages: list[MessageFullOut]


def render_message(view: MessageView, *, public_url: str) -> dict[str, Any]:
    """The list form (spec 1A, Message — list form)."""
    m = view.message
    wire: dict[str, Any] = {
        "id": m.id,
        "subject": m.subject,
        "draft": m.draft,
        "preview": m.preview,
        "type": m.type,
        "delivered_at": m.delivered_at,
        "updated_at": m.updated_at,
        "created_at": m.created_at,
        "email_message_id": m.email_message_id,
        "in_reply_to": m.in_reply_to,
        "references": m.references,
        "from_field": m.from_field,
        "to_fields": m.to_fields,
        "cc_fields": m.cc_fields,
        "bcc_fields": m.bcc_fields,
        "reply_to_fields": m.reply_to_fields,
        "attachments": [render_attachment(a, public_url=public_url) for a in view.attachments],
    }
    wire.update(message_extensions(view))
    return wire


def render_full_message(
    view: MessageView, *, conversation: dict[str, Any], public_url: str
) -> dict[str, Any]:
    """The full form: the list form plus ``body`` and ``conversation``, minus ``draft``."""
    wire = render_message(view, public_url=public_url)
    del wire["draft"]
    wire["body"] = view.message.body
    wire["conversation"] = conversation
    return wire


def message_extensions(view: MessageView) -> dict[str, Any]:
    m = view.message
    extra: dict[str, Any] = {}
    if m.type != "email":
        extra["external_id"] = m.external_id
        extra["account_author"] = m.from_field
        extra["account_recipients"] = m.to_fields
        extra["author"] = render_user_ref(view.author) if view.author else None
    if m.delivery_status is not None:
        extra["delivery_status"] = m.delivery_status
        extra["delivery_error"] = m.delivery_error
    return extra
