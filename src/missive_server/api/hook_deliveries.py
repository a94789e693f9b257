"""The delivery log of a hook (extension, docs/compatibility.md "Webhook delivery"):
``GET /v1/hooks/:id/deliveries`` and ``POST /v1/hooks/:id/deliveries/:delivery_id/redeliver``."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from missive_server.api.deps import Context
from missive_server.api.params import Limit, Until
from missive_server.api.responses import envelope
from missive_server.api.routing import UnitOfWorkRoute
from missive_server.pagination import cursor_page
from missive_server.schemas.hook_deliveries import DeliveriesEnvelope, render_delivery
from missive_server.services.hooks import hook_deliveries
from missive_server.services.hooks.hook_deliveries import SCHEDULES, DeliveryView

router = APIRouter(route_class=UnitOfWorkRoute, tags=["Hooks"])


def render(views: list[DeliveryView]) -> Response:
    return envelope("deliveries", [render_delivery(v.delivery, v.item, v.attempts) for v in views])


@router.get(
    "/hooks/{hook_id}/deliveries",
    response_model=DeliveriesEnvelope,
    summary="A hook's deliveries and their attempts, newest first (extension)",
)
async def list_hook_deliveries(
    hook_id: str, ctx: Context, limit: Limit = None, until: Until = None
) -> Response:
    hook = hook_deliveries.visible_hook(ctx.session, actor=ctx.actor, hook_id=hook_id)
    page = cursor_page(limit, until, default=50, maximum=200)
    return render(hook_deliveries.list_deliveries(ctx.session, page=page, hook_id=hook.id))


@router.post(
    "/hooks/{hook_id}/deliveries/{delivery_id}/redeliver",
    response_model=DeliveriesEnvelope,
    summary="Send a delivery again now, same id and body (extension)",
)
async def redeliver_hook_delivery(hook_id: str, delivery_id: str, ctx: Context) -> Response:
    hook = hook_deliveries.visible_hook(ctx.session, actor=ctx.actor, hook_id=hook_id)
    view = hook_deliveries.get_delivery(ctx.session, delivery_id=delivery_id, hook_id=hook.id)
    policy = SCHEDULES[ctx.settings.webhook_retry_schedule]
    hook_deliveries.redeliver(ctx.session, view=view, now=ctx.clock.now(), policy=policy)
    return render([view])
