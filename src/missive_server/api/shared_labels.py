"""GET/POST /v1/shared_labels and PATCH /v1/shared_labels/:ids (spec 2.11)."""

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
from missive_server.schemas.shared_labels import (
    SharedLabelsCreateBody,
    SharedLabelsEnvelope,
    SharedLabelsUpdateBody,
    render_shared_label,
)
from missive_server.services.directory import shared_labels
from missive_server.services.directory.shared_labels import SharedLabelView

router = APIRouter(route_class=UnitOfWorkRoute, tags=["Shared labels"])

FORBIDDEN: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorEnvelope, "description": "Sharing settings require an admin or owner"}
}


def _render(views: list[SharedLabelView], status_code: int = 200) -> Response:
    rendered = [
        render_shared_label(
            v.label, parent_names=v.name_with_parent_names, share_with_users=v.share_with_users
        )
        for v in views
    ]
    return envelope("shared_labels", rendered, status_code)


@router.get("/shared_labels", response_model=SharedLabelsEnvelope, summary="List shared labels")
async def list_shared_labels(
    ctx: Context,
    organization: OrganizationFilter = None,
    limit: Limit = None,
    offset: Offset = None,
) -> Response:
    page = offset_page(limit, offset)
    found = shared_labels.list_shared_labels(
        ctx.session, actor=ctx.actor, organization_id=organization, page=page
    )
    return _render(found)


@router.post(
    "/shared_labels",
    response_model=SharedLabelsEnvelope,
    status_code=201,
    responses=FORBIDDEN,
    summary="Create shared labels",
)
async def create_shared_labels(body: SharedLabelsCreateBody, ctx: Context) -> Response:
    created = shared_labels.create_shared_labels(
        ctx.session, actor=ctx.actor, items=body.shared_labels, now=ctx.clock.now()
    )
    return _render(created, 201)


@router.patch(
    "/shared_labels/{ids}",
    response_model=SharedLabelsEnvelope,
    responses=FORBIDDEN,
    summary="Update shared labels",
)
async def update_shared_labels(ids: str, body: SharedLabelsUpdateBody, ctx: Context) -> Response:
    updated = shared_labels.update_shared_labels(
        ctx.session, actor=ctx.actor, label_ids=split_ids(ids), items=body.shared_labels
    )
    return _render(updated)
