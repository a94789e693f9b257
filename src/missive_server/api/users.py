"""GET /v1/users (spec 2.13.1)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from missive_server.api.deps import Context
from missive_server.api.params import Limit, Offset, OrganizationFilter
from missive_server.api.responses import envelope
from missive_server.api.routing import UnitOfWorkRoute
from missive_server.pagination import offset_page
from missive_server.schemas.users import UsersEnvelope, render_user
from missive_server.services.directory import users

router = APIRouter(route_class=UnitOfWorkRoute, tags=["Users"])


@router.get("/users", response_model=UsersEnvelope, summary="List users")
async def list_users(
    ctx: Context,
    organization: OrganizationFilter = None,
    limit: Limit = None,
    offset: Offset = None,
) -> Response:
    found = users.list_users(
        ctx.session, actor=ctx.actor, organization_id=organization, page=offset_page(limit, offset)
    )
    return envelope("users", [render_user(u, me_id=ctx.actor.user_id) for u in found])
