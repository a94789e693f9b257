"""GET /v1/contact_books (spec 2.3)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from missive_server.api.deps import Context
from missive_server.api.params import Limit, Offset
from missive_server.api.responses import envelope
from missive_server.api.routing import UnitOfWorkRoute
from missive_server.pagination import offset_page
from missive_server.schemas.contact_books import ContactBooksEnvelope, render_contact_book
from missive_server.services.contacts import contact_books

router = APIRouter(route_class=UnitOfWorkRoute, tags=["Contact books"])


@router.get(
    "/contact_books", response_model=ContactBooksEnvelope, summary="List accessible contact books"
)
async def list_contact_books(ctx: Context, limit: Limit = None, offset: Offset = None) -> Response:
    views = contact_books.list_contact_books(
        ctx.session, actor=ctx.actor, page=offset_page(limit, offset)
    )
    rendered = [render_contact_book(v.book, share_with_users=v.share_with_users) for v in views]
    return envelope("contact_books", rendered)
