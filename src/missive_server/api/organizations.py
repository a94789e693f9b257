"""GET /v1/organizations (spec 2.8.1)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from missive_server.api.deps import Context
from missive_server.api.params import Limit, Offset
from missive_server.api.responses import envelope
from missive_server.api.routing import UnitOfWorkRoute
from missive_server.pagination import offset_page
from missive_server.schemas.organizations import OrganizationsEnvelope, render_organization
from missive_server.services.directory import organizations

router = APIRouter(route_class=UnitOfWorkRoute, tags=["Organizations"])


@router.get("/organizations", response_model=OrganizationsEnvelope, summary="List organizations")
async def list_organizations(ctx: Context, limit: Limit = None, offset: Offset = None) -> Response:
    page = offset_page(limit, offset)
    found = organizations.list_organizations(ctx.session, actor=ctx.actor, page=page)
    return envelope("organizations", [render_organization(o) for o in found])
