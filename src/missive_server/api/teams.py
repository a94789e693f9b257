"""GET/POST /v1/teams and PATCH /v1/teams/:ids (spec 2.12)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from missive_server.api.deps import Context
from missive_server.api.params import Limit, Offset, OrganizationFilter
from missive_server.api.responses import envelope
from missive_server.api.routing import UnitOfWorkRoute
from missive_server.ids import split_ids
from missive_server.pagination import offset_page
from missive_server.schemas.base import ErrorEnvelope
from missive_server.schemas.teams import (
    TeamsCreateBody,
    TeamsEnvelope,
    TeamsUpdateBody,
    render_team,
)
from missive_server.services.directory import teams
from missive_server.services.directory.teams import TeamView

router = APIRouter(route_class=UnitOfWorkRoute, tags=["Teams"])

FORBIDDEN: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorEnvelope, "description": "Requires an admin or owner of the organization"}
}


def _render(views: list[TeamView], status_code: int = 200) -> Response:
    rendered = [
        render_team(v.team, active_members=v.active_members, observers=v.observers) for v in views
    ]
    return envelope("teams", rendered, status_code)


@router.get("/teams", response_model=TeamsEnvelope, summary="List teams")
async def list_teams(
    ctx: Context,
    organization: OrganizationFilter = None,
    limit: Limit = None,
    offset: Offset = None,
) -> Response:
    page = offset_page(limit, offset)
    return _render(
        teams.list_teams(ctx.session, actor=ctx.actor, organization_id=organization, page=page)
    )


@router.post(
    "/teams",
    response_model=TeamsEnvelope,
    status_code=201,
    responses=FORBIDDEN,
    summary="Create teams",
)
async def create_teams(body: TeamsCreateBody, ctx: Context) -> Response:
    created = teams.create_teams(
        ctx.session, actor=ctx.actor, items=body.teams, now=ctx.clock.now()
    )
    return _render(created, 201)


@router.patch(
    "/teams/{ids}", response_model=TeamsEnvelope, responses=FORBIDDEN, summary="Update teams"
)
async def update_teams(ids: str, body: TeamsUpdateBody, ctx: Context) -> Response:
    updated = teams.update_teams(
        ctx.session, actor=ctx.actor, team_ids=split_ids(ids), items=body.teams
    )
    return _render(updated)
