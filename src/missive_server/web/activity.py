"""``/outbox`` and ``/deliveries``: what the server sent or captured (mail, channel messages) and
its webhook deliveries, scoped to the signed-in user's organizations, with the raw bytes and a
"Redeliver" button. The same services as ``/_emulator/outbox`` and ``/_emulator/deliveries``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from missive_server.db.models import Conversation
from missive_server.errors import ApiError
from missive_server.pagination import cursor_page
from missive_server.services import outbox
from missive_server.services.hooks import hook_deliveries
from missive_server.services.hooks.hook_deliveries import SCHEDULES
from missive_server.services.web import inbox as web_inbox
from missive_server.web.database_route import DatabaseThreadRoute
from missive_server.web.routes import (
    SignedPost,
    base_context,
    db_session,
    render_page,
    signed_in,
    signed_post,
    to_sign_in,
)

router = APIRouter(include_in_schema=False, route_class=DatabaseThreadRoute)

#: The outbox rows that are messages (webhook deliveries have their own page).
MESSAGE_KINDS = ("mail", "channel")
PAGE_SIZE = 50


@router.get("/outbox")
async def outbox_page(request: Request) -> Response:
    with db_session(request) as session:
        signed = signed_in(request, session)
        if signed is None:
            return to_sign_in()
        actor, web = signed
        entries = outbox.list_outbox(
            session, limit=PAGE_SIZE, kinds=MESSAGE_KINDS, organization_ids=actor.organization_ids
        )
        side = web_inbox.sidebar(session, actor=actor)
        context = base_context(request, actor, web, side, active="outbox:")
        context |= {"title": "Outbox", "entries": entries}
        return render_page(request, "outbox.html", context)


@router.get("/outbox/{item_id}/raw")
async def outbox_raw(request: Request, item_id: str) -> Response:
    with db_session(request) as session:
        signed = signed_in(request, session)
        if signed is None:
            return to_sign_in()
        actor, _ = signed
        try:
            item = outbox.find_outbox_entry(session, item_id=item_id).item
        except ApiError:
            return Response("Outbox item not found", status_code=404)
        conversation = session.get(Conversation, item.conversation_id or "")
        if (
            item.kind not in MESSAGE_KINDS
            or conversation is None
            or not actor.is_member(conversation.organization_id)
        ):
            return Response("Outbox item not found", status_code=404)
        if item.raw is None:
            return Response(f"Not built yet ({item.status})", status_code=404)
        # Shown as text so a browser displays it rather than downloading or rendering it.
        return Response(
            item.raw, media_type="text/plain; charset=utf-8", headers={"Cache-Control": "no-store"}
        )


@router.get("/deliveries")
async def deliveries_page(request: Request) -> Response:
    with db_session(request) as session:
        signed = signed_in(request, session)
        if signed is None:
            return to_sign_in()
        actor, web = signed
        views = hook_deliveries.list_deliveries(
            session, page=cursor_page(PAGE_SIZE, None, default=PAGE_SIZE, maximum=PAGE_SIZE),
            actor=actor,
        )  # fmt: skip
        side = web_inbox.sidebar(session, actor=actor)
        context = base_context(request, actor, web, side, active="deliveries:")
        context |= {
            "title": "Webhook deliveries",
            "views": views,
            "notice": request.query_params.get("notice"),
            "error": request.query_params.get("error"),
        }
        return render_page(request, "deliveries.html", context)


@router.post("/deliveries/{delivery_id}/redeliver")
async def redeliver(request: Request, delivery_id: str) -> Response:
    return await signed_post(request, lambda post: _redeliver(request, post, delivery_id))


def _redeliver(request: Request, post: SignedPost, delivery_id: str) -> Response:
    session = post.session
    try:
        view = hook_deliveries.get_delivery(session, delivery_id=delivery_id)
        hook_deliveries.visible_hook(session, actor=post.actor, hook_id=view.delivery.hook_id)
    except ApiError:
        return Response("Delivery not found", status_code=404)
    policy = SCHEDULES[request.app.state.settings.webhook_retry_schedule]
    hook_deliveries.redeliver(session, view=view, now=request.app.state.clock.now(), policy=policy)
    session.commit()
    return RedirectResponse("/deliveries?notice=Redelivery+queued.", status_code=303)
