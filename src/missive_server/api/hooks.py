"""POST /v1/hooks and DELETE /v1/hooks/:id (spec 2.15); GET /v1/hooks, GET and PATCH
/v1/hooks/:id are extensions (docs/compatibility.md, "Hooks")."""

from __future__ import annotations

import socket
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from missive_server.api.deps import Context
from missive_server.api.params import Limit, Offset, OrganizationFilter
from missive_server.api.responses import envelope, wire
from missive_server.api.routing import UnitOfWorkRoute
from missive_server.pagination import offset_page
from missive_server.schemas.base import ErrorEnvelope
from missive_server.schemas.hooks import (
    HookCreateBody,
    HookCreatedEnvelope,
    HookEnvelope,
    HooksEnvelope,
    HookUpdateBody,
    render_created_hook,
    render_hook,
)
from missive_server.schemas.posts import DeletedOut
from missive_server.services.hooks import hooks
from missive_server.services.hooks.webhook_urls import Resolver, WebhookUrlPolicy

router = APIRouter(route_class=UnitOfWorkRoute, tags=["Hooks"])

FORBIDDEN: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorEnvelope, "description": "Organization hooks require an admin or owner"}
}


async def resolver() -> Resolver:
    """The DNS lookup behind URL checks; tests override this dependency (no real DNS)."""
    return socket.getaddrinfo


AppResolver = Annotated[Resolver, Depends(resolver)]


@router.post(
    "/hooks",
    response_model=HookCreatedEnvelope,
    status_code=201,
    responses=FORBIDDEN,
    summary="Create a webhook subscription",
)
async def create_hook(body: HookCreateBody, ctx: Context, resolve: AppResolver) -> Response:
    # In the thread pool: the URL check's DNS lookup may block for seconds, and must not stall
    # the event loop (the ctx.session is used by that one thread meanwhile).
    hook = await run_in_threadpool(
        hooks.create_hook,
        ctx.session,
        actor=ctx.actor,
        item=body.hooks,
        now=ctx.clock.now(),
        urls=WebhookUrlPolicy.from_settings(ctx.settings, resolve=resolve),
    )
    return envelope("hooks", render_created_hook(hook), 201)


@router.get("/hooks", response_model=HooksEnvelope, summary="List webhook subscriptions")
async def list_hooks(
    ctx: Context,
    organization: OrganizationFilter = None,
    limit: Limit = None,
    offset: Offset = None,
) -> Response:
    found = hooks.list_hooks(
        ctx.session, actor=ctx.actor, organization_id=organization, page=offset_page(limit, offset)
    )
    return envelope("hooks", [render_hook(h) for h in found])


@router.get("/hooks/{hook_id}", response_model=HookEnvelope, summary="Get a webhook subscription")
async def get_hook(hook_id: str, ctx: Context) -> Response:
    return envelope(
        "hooks", render_hook(hooks.get_hook(ctx.session, actor=ctx.actor, hook_id=hook_id))
    )


@router.patch(
    "/hooks/{hook_id}",
    response_model=HookEnvelope,
    summary="Enable (resetting the failure count) or disable a webhook subscription",
)
async def update_hook(hook_id: str, body: HookUpdateBody, ctx: Context) -> Response:
    hook = hooks.update_hook(
        ctx.session, actor=ctx.actor, hook_id=hook_id, patch=body.hooks, now=ctx.clock.now()
    )
    return envelope("hooks", render_hook(hook))


@router.delete(
    "/hooks/{hook_id}", response_model=DeletedOut, summary="Delete a webhook subscription"
)
async def delete_hook(hook_id: str, ctx: Context) -> Response:
    hooks.delete_hook(ctx.session, actor=ctx.actor, hook_id=hook_id, now=ctx.clock.now())
    # Missive documents no body; ``{}`` suits clients that always parse JSON (spec 1.4).
    return wire({})
