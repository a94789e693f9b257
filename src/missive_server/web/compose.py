"""The composer pages: ``/c/<id>/compose?mode=reply|reply_all|forward`` and ``/compose`` (a new
email). Plain forms (no JavaScript needed) whose POST goes through ``signed_post`` (CSRF) and
``services/web/compose.py`` into ``create_draft``, the service of ``POST /v1/drafts``."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from missive_server.auth import Principal
from missive_server.db.models import Conversation
from missive_server.errors import ApiError, NotFound
from missive_server.services.conversations import conversations
from missive_server.services.outbox import RetryPolicy
from missive_server.services.web import compose
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
from missive_server.web.session import WebSession

router = APIRouter(include_in_schema=False, route_class=DatabaseThreadRoute)
NOTICES = {"send": "Sent.", "schedule": "Scheduled.", "save": "Draft saved."}
TITLES = {"reply": "Reply", "reply_all": "Reply all", "forward": "Forward", "new": "New email"}


@router.get("/compose")
async def new_email(request: Request) -> Response:
    return _compose_page(request, None, "new")


@router.get("/c/{conversation_id}/compose")
async def reply(request: Request, conversation_id: str) -> Response:
    return _compose_page(request, conversation_id, request.query_params.get("mode", "reply"))


def _compose_page(request: Request, conversation_id: str | None, mode: str) -> Response:
    with db_session(request) as session:
        signed = signed_in(request, session)
        if signed is None:
            return to_sign_in()
        actor, web = signed
        found = _visible(session, actor, conversation_id)
        if conversation_id is not None and found is None:
            return Response("Conversation not found", status_code=404)
        senders = compose.sender_choices(session, actor=actor)
        form = compose.start_composition(session, conversation=found, mode=mode, senders=senders)
        return _render(request, session, actor, web, found, form, senders)


def _visible(
    session: Session, actor: Principal, conversation_id: str | None
) -> Conversation | None:
    if conversation_id is None:
        return None
    try:
        return conversations.get_visible_conversation(
            session, actor=actor, conversation_id=conversation_id
        )
    except NotFound:
        return None


def _render(
    request: Request, session: Session, actor: Principal, web: WebSession,
    conversation: Conversation | None, form: compose.Composition,
    senders: list[compose.SenderChoice], status: int = 200,
) -> Response:  # fmt: skip
    side = web_inbox.sidebar(session, actor=actor)
    context = base_context(request, actor, web, side, active="compose:")
    context |= {"title": TITLES.get(form.mode, "Reply"), "form": form, "senders": senders,
                "conversation": conversation}  # fmt: skip
    return render_page(request, "compose.html", context, status)


@router.post("/compose")
async def send_new(request: Request) -> Response:
    return await signed_post(request, lambda post: _submit(request, post, None))


@router.post("/c/{conversation_id}/compose")
async def send_reply(request: Request, conversation_id: str) -> Response:
    return await signed_post(request, lambda post: _submit(request, post, conversation_id))


def _submit(request: Request, post: SignedPost, conversation_id: str | None) -> Response:
    session, actor, f = post.session, post.actor, post.form
    found = _visible(session, actor, conversation_id)
    if conversation_id is not None and found is None:
        return Response("Conversation not found", status_code=404)
    form = compose.Composition(
        mode=f.get("mode", "new"), from_address=f.get("from", ""), to=f.get("to", ""),
        cc=f.get("cc", ""), bcc=f.get("bcc", ""), subject=f.get("subject", ""),
        body=f.get("body", ""), quote=f.get("quote") == "on", send_at=f.get("send_at", ""),
    )  # fmt: skip
    action = f.get("action", "send") if f.get("action") in NOTICES else "send"
    settings = request.app.state.settings
    policy = RetryPolicy(settings.delivery_max_attempts, settings.delivery_backoff_seconds)
    try:
        view = compose.submit_composition(
            session, actor=actor, conversation_id=found.id if found else None, form=form,
            action=action, now=request.app.state.clock.now(), policy=policy,
        )  # fmt: skip
    except ApiError as error:
        session.rollback()
        form.errors.append(error.message)
        senders = compose.sender_choices(session, actor=actor)
        return _render(request, session, actor, post.web, found, form, senders, status=400)
    session.commit()
    target = view.message.conversation_id
    notice = urlencode({"notice": NOTICES[action]})
    return RedirectResponse(f"/c/{target}?{notice}", status_code=303)
