"""GET/POST /v1/responses, GET/PATCH/DELETE /v1/responses/:ids (spec 2.9): canned responses."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from missive_server.api.deps import AppSettings, Context
from missive_server.api.params import Limit, Offset, OrganizationFilter
from missive_server.api.responses import envelope, wire
from missive_server.api.routing import UnitOfWorkRoute
from missive_server.ids import split_ids
from missive_server.pagination import offset_page
from missive_server.schemas.base import ErrorEnvelope
from missive_server.schemas.canned_responses import (
    ResponsesCreateBody,
    ResponsesEnvelope,
    ResponsesUpdateBody,
    ResponseView,
    render_response,
)
from missive_server.schemas.posts import DeletedOut
from missive_server.services.responses import canned_responses

router = APIRouter(route_class=UnitOfWorkRoute, tags=["Responses"])

FORBIDDEN: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorEnvelope, "description": "'user' is not the token's user"}
}


def _render(views: list[ResponseView], settings: AppSettings, status_code: int = 200) -> Response:
    rendered = [render_response(v, public_url=settings.public_base) for v in views]
    return envelope("responses", rendered, status_code)


@router.get("/responses", response_model=ResponsesEnvelope, summary="List canned responses")
async def list_responses(
    ctx: Context,
    organization: OrganizationFilter = None,
    limit: Limit = None,
    offset: Offset = None,
) -> Response:
    page = offset_page(limit, offset)
    found = canned_responses.list_responses(
        ctx.session, actor=ctx.actor, organization_id=organization, page=page
    )
    return _render(found, ctx.settings)


@router.get(
    "/responses/{ids}",
    response_model=ResponsesEnvelope,
    summary="Get canned responses (one id, or several comma-separated)",
)
async def get_responses(ids: str, ctx: Context) -> Response:
    found = canned_responses.get_responses(
        ctx.session, actor=ctx.actor, response_ids=split_ids(ids)
    )
    return _render(found, ctx.settings)


@router.post(
    "/responses",
    response_model=ResponsesEnvelope,
    status_code=201,
    responses=FORBIDDEN,
    summary="Create canned responses",
)
async def create_responses(body: ResponsesCreateBody, ctx: Context) -> Response:
    created = canned_responses.create_responses(
        ctx.session, actor=ctx.actor, items=body.responses, now=ctx.clock.now()
    )
    return _render(created, ctx.settings, 201)


@router.patch(
    "/responses/{ids}", response_model=ResponsesEnvelope, summary="Update canned responses"
)
async def update_responses(ids: str, body: ResponsesUpdateBody, ctx: Context) -> Response:
    updated = canned_responses.update_responses(
        ctx.session,
        actor=ctx.actor,
        response_ids=split_ids(ids),
        items=body.responses,
        now=ctx.clock.now(),
    )
    return _render(updated, ctx.settings)


@router.delete("/responses/{ids}", response_model=DeletedOut, summary="Delete canned responses")
async def delete_responses(ids: str, ctx: Context) -> Response:
    canned_responses.delete_responses(ctx.session, actor=ctx.actor, response_ids=split_ids(ids))
    # Missive documents no body; ``{}`` suits clients that always parse JSON (spec 1.4).
    return wire({})
