"""``/_emulator/deliveries``: every hook's deliveries with the bytes sent, and redelivery
(emulator mode only, no token; included by ``api/emulator.py``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from missive_server.api.deps import AppClock, AppSettings, DbSession
from missive_server.api.params import Limit, Until
from missive_server.api.responses import envelope
from missive_server.api.routing import ControlPlaneRoute
from missive_server.pagination import cursor_page
from missive_server.schemas.hook_deliveries import (
    EmulatorDeliveriesEnvelope,
    render_emulator_delivery,
)
from missive_server.services.hooks import hook_deliveries
from missive_server.services.hooks.hook_deliveries import SCHEDULES, DeliveryView

router = APIRouter(route_class=ControlPlaneRoute, tags=["Emulator"])


def render(views: list[DeliveryView]) -> Response:
    rendered = [render_emulator_delivery(v.delivery, v.item, v.attempts, url=v.url) for v in views]
    return envelope("deliveries", rendered)


@router.get(
    "/deliveries",
    response_model=EmulatorDeliveriesEnvelope,
    summary="Every hook's webhook deliveries, newest first (emulator only)",
)
async def list_deliveries(
    session: DbSession,
    limit: Limit = None,
    until: Until = None,
    hook: Annotated[str | None, Query(description="Only this hook's deliveries")] = None,
) -> Response:
    page = cursor_page(limit, until, default=50, maximum=500)
    return render(hook_deliveries.list_deliveries(session, page=page, hook_id=hook))


@router.post(
    "/deliveries/{delivery_id}/redeliver",
    response_model=EmulatorDeliveriesEnvelope,
    summary="Send a webhook delivery again now, same id and body (emulator only)",
)
async def redeliver(
    delivery_id: str, session: DbSession, clock: AppClock, settings: AppSettings
) -> Response:
    view = hook_deliveries.get_delivery(session, delivery_id=delivery_id)
    policy = SCHEDULES[settings.webhook_retry_schedule]
    hook_deliveries.redeliver(session, view=view, now=clock.now(), policy=policy)
    return render([view])
