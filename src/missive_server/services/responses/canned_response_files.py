"""Files of canned responses, and the inline images their ``body`` points at (spec 2.9.3)."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from missive_server.db.models import Attachment, CannedResponse, CannedResponseAttachment
from missive_server.schemas.canned_responses import ResponseAttachmentIn
from missive_server.services.conversations.attachments import NewAttachment, build_attachment

_INLINE_ID = re.compile(r"""(data-missive-attachment-id\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE)


def attach_files(
    session: Session,
    response: CannedResponse,
    files: Sequence[ResponseAttachmentIn],
    *,
    now: int,
) -> str | None:
    """Stores the files and returns ``response.body`` with each temporary id it references
    replaced by the stored attachment's id. A file whose temporary id the body references is an
    inline image; any other file is a regular attachment."""
    attachments = [
        build_attachment(
            NewAttachment(file.filename, file.base64_data),
            now=now,
            organization_id=response.organization_id,
        )
        for file in files
    ]
    session.add_all(attachments)
    # No ORM relationships order the inserts: the attachment rows go before their links.
    session.flush()
    session.add_all(
        CannedResponseAttachment(attachment_id=a.id, response_id=response.id) for a in attachments
    )
    real_ids = {f.id: a.id for f, a in zip(files, attachments, strict=True) if f.id is not None}
    return link_inline_images(response.body, real_ids)


def link_inline_images(body: str | None, real_ids: dict[str, str]) -> str | None:
    if body is None or not real_ids:
        return body

    def swap(match: re.Match[str]) -> str:
        temporary = html.unescape(match.group(3))
        if temporary not in real_ids:
            return match.group(0)
        return f"{match.group(1)}{match.group(2)}{real_ids[temporary]}{match.group(2)}"

    return _INLINE_ID.sub(swap, body)


def files_of(session: Session, response_ids: Sequence[str]) -> dict[str, list[Attachment]]:
    """Ordered like message attachments: by creation, then file name."""
    if not response_ids:
        return {}
    grouped: dict[str, list[Attachment]] = {}
    rows = session.execute(
        select(CannedResponseAttachment.response_id, Attachment)
        .join(Attachment, Attachment.id == CannedResponseAttachment.attachment_id)
        .where(CannedResponseAttachment.response_id.in_(response_ids))
        .order_by(Attachment.created_at, Attachment.filename, Attachment.id)
    )
    for response_id, attachment in rows:
        grouped.setdefault(response_id, []).append(attachment)
    return grouped


def delete_files(session: Session, response_ids: Sequence[str]) -> None:
    """Attachment rows go with their links (the link table cascades only the other way)."""
    linked = select(CannedResponseAttachment.attachment_id).where(
        CannedResponseAttachment.response_id.in_(response_ids)
    )
    session.execute(delete(Attachment).where(Attachment.id.in_(linked)))
