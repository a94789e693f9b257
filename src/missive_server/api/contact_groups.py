"""GET /v1/contact_groups (spec 2.4)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from missive_server.api.deps import Context
from missive_server.api.params import Limit, Offset
from missive_server.api.responses import envelope
from missive_server.api.routing import UnitOfWorkRoute
from missive_server.pagination import offset_page
from missive_server.schemas.contact_groups import ContactGroupsEnvelope, render_contact_group
from missive_server.services.contacts import contact_groups

router = APIRouter(route_class=UnitOfWorkRoute, tags=["Contact groups"])


@router.get(
    "/contact_groups",
    response_model=ContactGroupsEnvelope,
    summary="List the groups or organizations of a contact book",
)
async def list_contact_groups(
    ctx: Context,
    contact_book: Annotated[str, Query(description="Contact book id")],
    kind: Annotated[str, Query(description="group or organization")],
    limit: Limit = None,
    offset: Offset = None,
) -> Response:
    groups = contact_groups.list_contact_groups(
        ctx.session,
        actor=ctx.actor,
        book_id=contact_book,
        kind=kind,
        page=offset_page(limit, offset),
    )
    return envelope("contact_groups", [render_contact_group(g) for g in groups])
