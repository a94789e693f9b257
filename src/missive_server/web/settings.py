"""Settings > API, where the Missive docs send integration developers: the "API" tab (the user's
tokens, "Create a new token", revoke) and the "Resource IDs" tab. Tokens go through the CLI's
token service (``services/directory/tokens.py``): hashed at rest, the token itself shown once in
the answer to the creating POST and never again (no redirect that could carry it)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from missive_server.errors import NotFound
from missive_server.services.directory import tokens
from missive_server.services.web import inbox as web_inbox
from missive_server.services.web.resource_ids import resource_ids
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
NAME_LIMIT = 255


@router.get("/settings")
async def settings_home(request: Request) -> Response:
    return RedirectResponse("/settings/api", status_code=303)


@router.get("/settings/api")
async def api_tab(request: Request) -> Response:
    return _settings_page(request, "settings_api.html", notice=request.query_params.get("notice"))


@router.get("/settings/api/new")
async def new_token_form(request: Request) -> Response:
    return _settings_page(request, "settings_new_token.html")


@router.get("/settings/resource-ids")
async def resource_ids_tab(request: Request) -> Response:
    return _settings_page(request, "settings_resource_ids.html")


def _settings_page(
    request: Request, template: str, *, created: str | None = None, notice: str | None = None
) -> Response:
    with db_session(request) as session:
        signed = signed_in(request, session)
        if signed is None:
            return to_sign_in()
        actor, web = signed
        side = web_inbox.sidebar(session, actor=actor)
        context = base_context(request, actor, web, side, active="settings:")
        context |= {"title": "Settings", "created": created, "notice": notice}
        if template == "settings_api.html":
            context["tokens"] = tokens.list_tokens(session, user_id=actor.user_id)
        elif template == "settings_resource_ids.html":
            context["organizations"] = resource_ids(session, actor=actor)
        return render_page(request, template, context)


@router.post("/settings/api/tokens")
async def create_token(request: Request) -> Response:
    created: list[str] = []
    answer = await signed_post(request, lambda post: _create_token(request, post, created))
    if not created:
        return answer
    # Rendered in a fresh session, after the commit: the page lists the new token's row too.
    return _settings_page(request, "settings_api.html", created=created[0])


def _create_token(request: Request, post: SignedPost, created: list[str]) -> Response:
    name = post.form.get("name", "").strip()[:NAME_LIMIT] or None
    now = request.app.state.clock.now()
    created.append(tokens.issue_token(post.session, user_id=post.actor.user_id, now=now, name=name))
    post.session.commit()
    return Response(status_code=204)


@router.post("/settings/api/tokens/{token_id}/revoke")
async def revoke_token(request: Request, token_id: str) -> Response:
    return await signed_post(request, lambda post: _revoke(request, post, token_id))


def _revoke(request: Request, post: SignedPost, token_id: str) -> Response:
    try:
        tokens.revoke_token_by_id(
            post.session,
            user_id=post.actor.user_id,
            token_id=token_id,
            now=request.app.state.clock.now(),
        )
    except NotFound:
        return Response("Token not found", status_code=404)
    post.session.commit()
    return RedirectResponse("/settings/api?notice=Token+revoked.", status_code=303)
