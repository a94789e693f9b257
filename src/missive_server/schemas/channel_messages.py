"""The body of ``POST /v1/messages`` (spec 2.7.1): a message received by a custom channel, and
the participant shapes of its channel (spec 1A, 2.7.1).

Participants are checked after the account is known (its message type decides their shape),
so their errors come from :func:`channel_participants`, named by field path like every other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import (
    BeforeValidator,
    field_validator,
    model_validator,
)

from missive_server.errors import BadRequest
from missive_server.schemas.base import RequestModel, WireModel
from missive_server.schemas.conversation_actions import (
    ConversationActions,
    ConversationActionsIn,
    ConversationLocatorIn,
)
from missive_server.schemas.fields import (
    AttachmentIn,
    ParticipantsIn,
    Timestamp,
    at_most,
    at_most_files,
    invalid,
)
from missive_server.schemas.messages import Participant

#: Column sizes: ``messages.external_id``, ``message_references.reference``.
EXTERNAL_ID_MAX = 255
REFERENCE_MAX = 998
#: Message types of a custom channel (``Account.message_type``); ``custom_text`` by default.
MESSAGE_TYPES = ("custom_text", "custom_html", "email")
EMAIL_MAX = 320
_EMAIL = re.compile(r"[^@\s<>]+@[^@\s<>]+")


def _number_as_text(value: Any) -> Any:
    """External systems often number their messages (``12345``); ids are text here."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


ExternalId = Annotated[str, BeforeValidator(_number_as_text), at_most(EXTERNAL_ID_MAX)]
Reference = Annotated[str, at_most(REFERENCE_MAX)]


@dataclass(slots=True)
class ChannelMessageRequest:
    """What ``POST /v1/messages`` asks for; the framework-free input of
    ``services.channel_messages``. Participants are still raw (see module docstring).

    ``add_to_inbox`` / ``add_to_team_inbox`` keep ``None`` apart from ``false``: when not
    given they follow the channel (spec 2.7.1), so the service needs to know.
    """

    account: str
    actions: ConversationActions
    subject: str | None = None
    body: str | None = None
    from_field: dict[str, Any] | None = None
    to_fields: list[dict[str, Any]] = field(default_factory=list)
    cc_fields: list[dict[str, Any]] = field(default_factory=list)
    bcc_fields: list[dict[str, Any]] = field(default_factory=list)
    delivered_at: int | None = None
    #: ``(filename, content)`` pairs.
    files: list[tuple[str, bytes]] = field(default_factory=list)
    external_id: str | None = None
    references: list[str] = field(default_factory=list)
    conversation: str | None = None
    add_to_inbox: bool | None = None
    add_to_team_inbox: bool | None = None


class ChannelMessageIn(ConversationActionsIn, ConversationLocatorIn):
    """The ``messages`` object (spec 2.7.1). ``reopen`` is not a message parameter (spec 1B)
    and is ignored: an incoming message reopens the conversation anyway."""

    account: str
    subject: str | None = None
    body: str | None = None
    from_field: dict[str, Any] | None = None
    to_fields: ParticipantsIn | None = None
    cc_fields: ParticipantsIn | None = None
    bcc_fields: ParticipantsIn | None = None
    delivered_at: Timestamp | None = None
    attachments: list[AttachmentIn] | None = None
    external_id: ExternalId | None = None
    references: list[Reference] | None = None

    _at_most_25 = field_validator("attachments", mode="before")(at_most_files)

    def to_request(self) -> ChannelMessageRequest:
        actions = self.to_actions()
        actions.reopen = False
        return ChannelMessageRequest(
            account=self.account,
            actions=actions,
            subject=self.subject,
            body=self.body,
            from_field=self.from_field,
            to_fields=list(self.to_fields or ()),
            cc_fields=list(self.cc_fields or ()),
            bcc_fields=list(self.bcc_fields or ()),
            delivered_at=self.delivered_at,
            files=[(a.filename, a.base64_data) for a in self.attachments or ()],
            external_id=self.external_id,
            references=list(self.references or ()),
            conversation=self.conversation,
            add_to_inbox=self.add_to_inbox,
            add_to_team_inbox=self.add_to_team_inbox,
        )


class MessagesCreateBody(RequestModel):
    """``{"messages": {...}}``. Real clients also send the message unwrapped, and an array of
    one where an object is documented (design.md); error paths still start with ``messages``."""

    messages: ChannelMessageIn

    @model_validator(mode="before")
    @classmethod
    def _wrap(cls, value: Any) -> Any:
        if isinstance(value, list) or (isinstance(value, dict) and "messages" not in value):
            return {"messages": value}
        return value

    @field_validator("messages", mode="before")
    @classmethod
    def _one(cls, value: Any) -> Any:
        if isinstance(value, list):
            if len(value) != 1:
                raise invalid("must be one message (an object, or an array of one)")
            return value[0]
        return value


class MessageRef(WireModel):
    id: str
    conversation: str


class MessageCreatedEnvelope(WireModel):
    """Missive documents no response (spec 2.7.1); this mirrors drafts and posts."""

    messages: MessageRef


# --- participants (spec 2.7.1 ``from_field`` / ``to_fields``) -------------------------------


@dataclass(slots=True)
class ChannelParticipants:
    from_field: Participant | None = None
    to_fields: list[Participant] = field(default_factory=list)
    cc_fields: list[Participant] = field(default_factory=list)
    bcc_fields: list[Participant] = field(default_factory=list)


def channel_participants(message_type: str, request: ChannelMessageRequest) -> ChannelParticipants:
    """The participants in the channel's shape: ``{"name", "address"}`` for an email-type
    channel, ``{"id", "name", "username"}`` (any values) for a text or HTML one. 400 naming the
    first bad field; ``subject``, ``cc_fields`` and ``bcc_fields`` are for email-type only."""
    if message_type != "email":
        for name in ("subject", "cc_fields", "bcc_fields"):
            if getattr(request, name):
                raise BadRequest(f"'{name}' can only be used with email-type custom channels")
    shape = _email_participant if message_type == "email" else _id_participant
    return ChannelParticipants(
        from_field=shape(request.from_field, "from_field") if request.from_field else None,
        to_fields=[shape(p, f"to_fields[{i}]") for i, p in enumerate(request.to_fields)],
        cc_fields=[shape(p, f"cc_fields[{i}]") for i, p in enumerate(request.cc_fields)],
        bcc_fields=[shape(p, f"bcc_fields[{i}]") for i, p in enumerate(request.bcc_fields)],
    )


def _text(item: dict[str, Any], key: str, path: str) -> str | None:
    value = item.get(key)
    if value is not None and not isinstance(value, str):
        raise BadRequest(f"'{path}.{key}' must be a string")
    return value


def _id_participant(item: Any, path: str) -> Participant:
    if not isinstance(item, dict):
        raise BadRequest(f"'{path}' must be an object")
    if "id" in item:
        item = {**item, "id": _number_as_text(item["id"])}
    return {
        "id": _text(item, "id", path),
        "name": _text(item, "name", path),
        "username": _text(item, "username", path),
    }


def _email_participant(item: Any, path: str) -> Participant:
    if not isinstance(item, dict):
        raise BadRequest(f"'{path}' must be an object")
    address = (_text(item, "address", path) or "").strip()
    if not address:
        raise BadRequest(f"'{path}.address' is required")
    if len(address) > EMAIL_MAX or not _EMAIL.fullmatch(address):
        raise BadRequest(f"'{path}.address' must be a valid email address")
    return {"name": _text(item, "name", path), "address": address}
