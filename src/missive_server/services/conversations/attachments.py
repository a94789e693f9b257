"""Stored files: attachments of messages, comments and responses, served from a download URL."""

from __future__ import annotations

import mimetypes
import secrets
import struct
from dataclasses import dataclass

from missive_server.db.models import Attachment
from missive_server.ids import new_id
from missive_server.schemas.attachments import download_path as schema_download_path


@dataclass(frozen=True, slots=True)
class NewAttachment:
    filename: str
    content: bytes


def build_attachment(
    new: NewAttachment, *, now: int, organization_id: str | None, message_id: str | None = None
) -> Attachment:
    media_type, sub_type = _media_type(new.filename)
    size = image_size(new.content) if media_type == "image" else None
    extension = new.filename.rsplit(".", 1)[-1].lower() if "." in new.filename else None
    return Attachment(
        id=new_id(),
        message_id=message_id,
        organization_id=organization_id,
        filename=new.filename,
        extension=extension,
        media_type=media_type,
        sub_type=sub_type,
        size=len(new.content),
        width=size[0] if size else None,
        height=size[1] if size else None,
        content=new.content,
        download_token=secrets.token_urlsafe(24),
        created_at=now,
    )


def download_path(attachment: Attachment) -> str:
    # The wire schema owns the URL format (it renders ``url``); the filename is percent-encoded
    # there, so names with spaces, "#", "?" or "/" still produce a working URL.
    return schema_download_path(attachment)


def _media_type(filename: str) -> tuple[str, str]:
    guessed, _ = mimetypes.guess_type(filename, strict=False)
    if not guessed:
        return "application", "octet-stream"
    media_type, _, sub_type = guessed.partition("/")
    return media_type, sub_type


def image_size(content: bytes) -> tuple[int, int] | None:
    """Width and height from PNG, GIF or JPEG headers; ``None`` when unknown."""
    if content[:8] == b"\x89PNG\r\n\x1a\n" and len(content) >= 24:
        width, height = struct.unpack(">II", content[16:24])
        return int(width), int(height)
    if content[:6] in (b"GIF87a", b"GIF89a") and len(content) >= 10:
        width, height = struct.unpack("<HH", content[6:10])
        return int(width), int(height)
    if content[:2] == b"\xff\xd8":
        return _jpeg_size(content)
    return None


def _jpeg_size(content: bytes) -> tuple[int, int] | None:
    index = 2
    while index + 9 < len(content):
        if content[index] != 0xFF:
            return None
        marker = content[index + 1]
        length = struct.unpack(">H", content[index + 2 : index + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            height, width = struct.unpack(">HH", content[index + 5 : index + 9])
            return int(width), int(height)
        index += 2 + length
    return None
