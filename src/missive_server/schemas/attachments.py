"""Attachment wire objects (spec 1A, Attachment) and where their bytes are served."""

from __future__ import annotations

from typing import Any, NamedTuple
from urllib.parse import quote

from missive_server.db.models import Attachment
from missive_server.schemas.base import WireModel


class AttachmentOut(WireModel):
    id: str
    filename: str
    extension: str | None
    url: str
    media_type: str
    sub_type: str
    size: int
    #: Only present for images (spec 1A).
    width: int | None = None
    height: int | None = None


class AttachmentRow(NamedTuple):
    """The ``attachments`` columns the wire form renders, read with Core (never the bytes)."""

    id: str
    message_id: str | None
    filename: str
    extension: str | None
    media_type: str
    sub_type: str
    size: int
    width: int | None
    height: int | None
    download_token: str


def download_path(attachment: Attachment | AttachmentRow) -> str:
    """``/_files/<id>/<token>/<filename>``; the token is the credential (like a signed URL)."""
    filename = quote(attachment.filename, safe="")
    return f"/_files/{attachment.id}/{attachment.download_token}/{filename}"


def render_attachment(attachment: Attachment | AttachmentRow, *, public_url: str) -> dict[str, Any]:
    wire: dict[str, Any] = {
        "id": attachment.id,
        "filename": attachment.filename,
        "extension": attachment.extension,
        "url": public_url + download_path(attachment),
        "media_type": attachment.media_type,
        "sub_type": attachment.sub_type,
        "size": attachment.size,
    }
    if attachment.media_type == "image":
        wire["width"] = attachment.width
        wire["height"] = attachment.height
    return wire
