"""Draft wire objects (spec 1A, Draft — list form) and the body of ``POST /v1/drafts``
(spec 2.6.1), with the per-channel shapes of its participants."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import (
    field_validator,
    model_validator,
)

from missive_server.errors import BadRequest
from missive_server.schemas.attachments import AttachmentOut, render_attachment
from missive_server.schemas.base import RequestModel, WireModel
from missive_server.schemas.conversation_actions import ConversationActionsIn, ConversationLocatorIn
from missive_server.schemas.fields import (
    AttachmentIn,
    ParticipantsIn,
    Timestamp,
    at_most_files,
)
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
        # False once sent: the response of ``POST /v1/drafts`` with ``send: true``.
        "draft": d.draft,
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


class DraftCreatedOut(DraftOut):
    """``POST /v1/drafts``: clients read ``id`` and ``conversation`` (spec 2.6.1); the other keys
    are the draft's list form (spec 1A), ``draft: false`` once sent."""

    conversation: str


class DraftCreatedEnvelope(WireModel):
    drafts: DraftCreatedOut


# --- POST /v1/drafts (spec 2.6.1) -----------------------------------------------------------


@dataclass(slots=True)
class DraftRequest:
    """What ``POST /v1/drafts`` asks for; the framework-free input of ``services.drafts``.
    Participants are still raw: their shape depends on the sending account's channel."""

    subject: str | None = None
    body: str | None = None
    from_field: dict[str, Any] | None = None
    to_fields: list[dict[str, Any]] = field(default_factory=list)
    cc_fields: list[dict[str, Any]] = field(default_factory=list)
    bcc_fields: list[dict[str, Any]] = field(default_factory=list)
    account: str | None = None
    #: ``(filename, content)`` pairs.
    files: list[tuple[str, bytes]] = field(default_factory=list)
    quote_previous_message: bool = False
    send: bool = False
    send_at: int | None = None
    auto_followup: bool = False
    conversation: str | None = None
    references: list[str] = field(default_factory=list)


class DraftIn(ConversationActionsIn, ConversationLocatorIn):
    """The ``drafts`` object (spec 2.6.1). ``reopen`` is not a draft parameter (spec 1B) and is
    ignored; so are ``add_default_signature`` (there are no signatures here) and the WhatsApp
    template fields, which are type-checked only (docs/compatibility.md)."""

    subject: str | None = None
    body: str | None = None
    quote_previous_message: bool | None = None
    add_default_signature: bool | None = None
    from_field: dict[str, Any] | None = None
    to_fields: ParticipantsIn | None = None
    cc_fields: ParticipantsIn | None = None
    bcc_fields: ParticipantsIn | None = None
    account: str | None = None
    attachments: list[AttachmentIn] | None = None
    send: bool | None = None
    send_at: Timestamp | None = None
    auto_followup: bool | None = None
    external_response_id: str | None = None
    external_response_variables: dict[str, str] | None = None

    _at_most_25 = field_validator("attachments", mode="before")(at_most_files)

    def to_request(self) -> DraftRequest:
        return DraftRequest(
            subject=self.subject,
            body=self.body,
            from_field=self.from_field,
            to_fields=list(self.to_fields or ()),
            cc_fields=list(self.cc_fields or ()),
            bcc_fields=list(self.bcc_fields or ()),
            account=self.account,
            files=[(a.filename, a.base64_data) for a in self.attachments or ()],
            quote_previous_message=bool(self.quote_previous_message),
            send=bool(self.send),
            send_at=self.send_at,
            auto_followup=bool(self.auto_followup),
            conversation=self.conversation,
            references=list(self.references or ()),
        )


class DraftsCreateBody(RequestModel):
    """``{"drafts": {...}}``; an unwrapped draft object is accepted too (real clients send
    both), and error paths still start with ``drafts``."""

    drafts: DraftIn

    @model_validator(mode="before")
    @classmethod
    def _wrap(cls, value: Any) -> Any:
        if isinstance(value, dict) and "drafts" not in value:
            return {"drafts": value}
        return value


# --- participants per channel (spec 2.6.1 ``from_field`` / ``to_fields``) ------------------

#: How the channels are named in error messages.
CHANNEL_NAMES = {
    "email": "email",
    "sms": "SMS",
    "whatsapp": "WhatsApp",
    "messenger": "Messenger",
    "instagram": "Instagram",
    "live_chat": "Live Chat",
    "custom": "custom channel",
}
#: Channels whose ``to_fields`` hold exactly one recipient (spec 2.6.1).
SINGLE_RECIPIENT = ("sms", "whatsapp", "live_chat")
PHONE_RULE = "must be a phone number: '+' followed by digits, e.g. +18005550199"
_PHONE = re.compile(r"\+[0-9]{1,15}")
# ASCII mailbox names only: non-ASCII ones need SMTPUTF8, which outgoing mail does not speak.
_EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@(?:[^\W_]|-)+(?:\.(?:[^\W_]|-)+)+", re.UNICODE
)
#: RFC 5321's limit on a forward path.
EMAIL_MAX = 254


@dataclass(slots=True)
class Recipients:
    to_fields: list[Participant] = field(default_factory=list)
    cc_fields: list[Participant] = field(default_factory=list)
    bcc_fields: list[Participant] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.to_fields or self.cc_fields or self.bcc_fields)

    def addresses(self) -> list[str]:
        everyone = [*self.to_fields, *self.cc_fields, *self.bcc_fields]
        return [str(p["address"]) for p in everyone if p.get("address")]


def text_value(item: dict[str, Any], key: str, path: str, *, required: bool = False) -> str | None:
    value = item.get(key)
    if value is None:
        if required:
            raise BadRequest(f"'{path}.{key}' is required")
        return None
    if not isinstance(value, str):
        raise BadRequest(f"'{path}.{key}' must be a string")
    return value


def email_address(item: dict[str, Any], path: str) -> str:
    address = (text_value(item, "address", path, required=True) or "").strip()
    if len(address) > EMAIL_MAX or not _EMAIL.fullmatch(address):
        raise BadRequest(f"'{path}.address' must be a valid email address")
    return address


def phone_number(item: dict[str, Any], path: str) -> str:
    number = (text_value(item, "phone_number", path, required=True) or "").strip()
    if not _PHONE.fullmatch(number):
        raise BadRequest(f"'{path}.phone_number' {PHONE_RULE}")
    return number


def email_participant(item: dict[str, Any], path: str) -> Participant:
    return {"name": text_value(item, "name", path), "address": email_address(item, path)}


def phone_participant(item: dict[str, Any], path: str) -> Participant:
    return {"name": text_value(item, "name", path), "phone_number": phone_number(item, path)}


def id_participant(item: dict[str, Any], path: str, *, required: bool = True) -> Participant:
    """``{"id", "name", "username"}`` (spec 1A). Numeric ids (Messenger's PSIDs) become text."""
    raw_id = item.get("id")
    if isinstance(raw_id, int) and not isinstance(raw_id, bool):
        item = {**item, "id": str(raw_id)}
    return {
        "id": text_value(item, "id", path, required=required),
        "name": text_value(item, "name", path),
        "username": text_value(item, "username", path),
    }


def custom_participant(item: dict[str, Any], path: str) -> Participant:
    """Custom channels take any ``id``/``username``/``name`` (spec 2.6.1)."""
    return id_participant(item, path, required=False)


_RECIPIENT_SHAPES = {
    "email": email_participant,
    "sms": phone_participant,
    "whatsapp": phone_participant,
    "messenger": id_participant,
    "instagram": id_participant,
    "live_chat": id_participant,
    "custom": custom_participant,
}


def recipients(
    shape: str,
    to_fields: list[dict[str, Any]],
    cc_fields: list[dict[str, Any]],
    bcc_fields: list[dict[str, Any]],
) -> Recipients:
    """``to_fields``/``cc_fields``/``bcc_fields`` in the shape of ``shape`` (an account type,
    or ``email`` for an email-type custom channel); 400 naming the first bad item."""
    channel = CHANNEL_NAMES[shape]
    if shape != "email":
        for name, items in (("cc_fields", cc_fields), ("bcc_fields", bcc_fields)):
            if items:
                raise BadRequest(f"'{name}' can only be used in email drafts, not {channel} ones")
    if shape in SINGLE_RECIPIENT and len(to_fields) > 1:
        raise BadRequest(f"'to_fields' must hold exactly one recipient in {channel} drafts")
    shaped = _RECIPIENT_SHAPES[shape]
    return Recipients(
        *(
            [shaped(item, f"{name}[{i}]") for i, item in enumerate(items)]
            for name, items in (
                ("to_fields", to_fields),
                ("cc_fields", cc_fields),
                ("bcc_fields", bcc_fields),
            )
        )
    )
