"""The action forms of a conversation page (close/reopen, labels, assignees, comment): plain
HTML POSTs with the session's CSRF token, applied by ``services/web_actions`` and answered with
a redirect back to the conversation (post/redirect/get), so they work without JavaScript."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from missive_server.errors import ApiError, NotFound
from missive_server.services.conversations import conversations
from missive_server.services.web import actions as web_actions
from missive_server.web.database_route import DatabaseThreadRoute
from missive_server.web.routes import SignedPost, signed_post

router = APIRouter(include_in_schema=False, route_class=DatabaseThreadRoute)


@router.post("/c/{conversation_id}/act")
async def act(request: Request, conversation_id: str) -> Response:
    return await signed_post(request, lambda post: _act(request, post, conversation_id))


def _act(request: Request, post: SignedPost, conversation_id: str) -> Response:
    session, actor, form = post.session, post.actor, post.form
    try:
        found = conversations.get_visible_conversation(
            session, actor=actor, conversation_id=conversation_id
        )
    except NotFound:
        return Response("Conversation not found", status_code=404)
    try:
        notice = web_actions.act(
            session,
            found,
            actor=actor,
            action=form.get("action", ""),
            value=form.get("value", ""),
            now=request.app.state.clock.now(),
        )
    except ApiError as error:
        session.rollback()
        return _back(found.id, error=error.message)
    session.commit()
    return _back(found.id, notice=notice)


def _back(conversation_id: str, **message: str) -> Response:
    return RedirectResponse(f"/c/{conversation_id}?{urlencode(message)}", status_code=303)
