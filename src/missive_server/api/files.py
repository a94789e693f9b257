"""Attachment downloads: ``/_files/<id>/<token>/<filename>``, outside ``/v1`` and without a
bearer token. The unguessable token in the path is the credential, as Missive's attachment
``url`` is a signed (time-limited) file URL that clients fetch without authentication (spec 1A).
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter
from starlette.responses import Response

from missive_server.api.deps import DbSession
from missive_server.api.routing import UnitOfWorkRoute
from missive_server.services.conversations import messages

router = APIRouter(route_class=UnitOfWorkRoute, tags=["Files"])

#: Served inline (shown by browsers); anything else is a download, so no user-supplied HTML,
#: SVG or script ever renders on our origin.
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf"})


@router.get(
    "/_files/{attachment_id}/{token}/{filename:path}",
    summary="Download an attachment (the URL is the credential)",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
async def download_attachment(
    attachment_id: str, token: str, filename: str, session: DbSession
) -> Response:
    attachment = messages.get_attachment_download(session, attachment_id=attachment_id, token=token)
    content_type = f"{attachment.media_type}/{attachment.sub_type}"
    disposition = "inline" if content_type in INLINE_TYPES else "attachment"
    return Response(
        attachment.content,
        media_type=content_type,
        headers={
            "Content-Disposition": content_disposition(disposition, attachment.filename),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, max-age=86400",
        },
    )


def content_disposition(disposition: str, filename: str) -> str:
    """RFC 6266: an ASCII ``filename`` fallback plus the exact UTF-8 ``filename*``."""
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename
    )
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
