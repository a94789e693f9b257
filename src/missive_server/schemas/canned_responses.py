"""Canned response wire objects and request bodies (spec 2.9). Missive calls the resource
``responses``; the modules say ``canned_responses`` because ``api/responses.py`` renders HTTP
responses and ``Response`` is the HTTP class in every route module."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import field_validator

from missive_server.db.models import Attachment, CannedResponse
from missive_server.schemas.attachments import AttachmentOut, render_attachment
from missive_server.schemas.base import RequestModel, WireModel
from missive_server.schemas.drafts import email_participant
from missive_server.schemas.fields import (
    AttachmentIn,
    Name,
    ParticipantsIn,
    at_most,
    at_most_files,
    invalid,
    one_or_many,
    reject_null,
)
from missive_server.schemas.messages import Participant

#: ``title`` and ``subject`` (spec 2.9.3).
TEXT_MAX = 500
#: ``external_id`` / ``external_source`` column sizes.
EXTERNAL_MAX = 255
#: The decoded files of one response (spec 2.9.3: "payload ≤ 10 MB").
MAX_ATTACHMENTS_BYTES = 10 * 1024 * 1024
RECIPIENT_FIELDS = ("to_fields", "cc_fields", "bcc_fields")


Title = Annotated[str, at_most(TEXT_MAX)]
External = Annotated[str, at_most(EXTERNAL_MAX)]


class ResponseAttachmentIn(AttachmentIn):
    #: A temporary id; ``<img data-missive-attachment-id="<id>">`` in ``body`` makes the file
    #: an inline image and is rewritten to the stored attachment's id (spec 2.9.3).
    id: Name | None = None


class ResponseFields(RequestModel):
    """Optional on create and update; ``null`` clears the nullable ones on update."""

    title: Title | None = None
    subject: Title | None = None
    body: str | None = None
    organization: str | None = None
    user: str | None = None
    share_with_team: str | None = None
    shared_labels: list[str] | None = None
    to_fields: ParticipantsIn | None = None
    cc_fields: ParticipantsIn | None = None
    bcc_fields: ParticipantsIn | None = None
    external_id: External | None = None
    external_source: External | None = None
    attachments: list[ResponseAttachmentIn] | None = None

    _not_null = field_validator("shared_labels", *RECIPIENT_FIELDS, "attachments")(reject_null)

    _at_most_25 = field_validator("attachments", mode="before")(at_most_files)

    @field_validator("attachments")
    @classmethod
    def _files(cls, value: list[ResponseAttachmentIn]) -> list[ResponseAttachmentIn]:
        if sum(len(a.base64_data) for a in value) > MAX_ATTACHMENTS_BYTES:
            raise invalid(f"must total at most {MAX_ATTACHMENTS_BYTES // (1024 * 1024)} MB")
        seen: set[str] = set()
        for temporary_id in (a.id for a in value if a.id is not None):
            if temporary_id in seen:
                raise invalid(f"holds the temporary id '{temporary_id}' more than once")
            seen.add(temporary_id)
        return value


class ResponseIn(ResponseFields):
    pass


class ResponsePatch(ResponseFields):
    id: str


class ResponsesCreateBody(RequestModel):
    responses: list[ResponseIn]

    _one_or_many = field_validator("responses", mode="before")(one_or_many)


class ResponsesUpdateBody(RequestModel):
    responses: list[ResponsePatch]

    _one_or_many = field_validator("responses", mode="before")(one_or_many)


def recipients_of(item: ResponseFields, path: str) -> dict[str, list[Participant]]:
    """The recipient fields given in ``item`` as ``{"name", "address"}`` (email only: a response
    is a template for an email reply); 400 naming the first bad item."""
    return {
        name: [
            email_participant(raw, f"{path}.{name}[{i}]")
            for i, raw in enumerate(getattr(item, name))
        ]
        for name in RECIPIENT_FIELDS
        if getattr(item, name) is not None
    }


class ResponseOut(WireModel):
    id: str
    title: str | None
    body: str | None
    subject: str | None
    organization: str | None
    user: str | None
    share_with_team: str | None
    modified_at: int
    to_fields: list[Participant]
    cc_fields: list[Participant]
    bcc_fields: list[Participant]
    shared_labels: list[str]
    external_id: str | None
    external_source: str | None
    attachments: list[AttachmentOut]


class ResponsesEnvelope(WireModel):
    responses: list[ResponseOut]


@dataclass(frozen=True, slots=True)
class ResponseView:
    response: CannedResponse
    shared_labels: list[str]
    attachments: list[Attachment]


def render_response(view: ResponseView, *, public_url: str) -> dict[str, Any]:
    """Spec 2.9's object; ``shared_labels`` are ids there, not label objects."""
    r = view.response
    return {
        "id": r.id,
        "title": r.title,
        "body": r.body,
        "subject": r.subject,
        "organization": r.organization_id,
        "user": r.user_id,
        "share_with_team": r.share_with_team_id,
        "modified_at": r.modified_at,
        "to_fields": r.to_fields,
        "cc_fields": r.cc_fields,
        "bcc_fields": r.bcc_fields,
        "shared_labels": view.shared_labels,
        "external_id": r.external_id,
        "external_source": r.external_source,
        "attachments": [render_attachment(a, public_url=public_url) for a in view.attachments],
    }
