"""The inbox pages at ``/``: sign-in, mailboxes and a conversation. Routes parse, call services
and render templates; every page but sign-in needs a signed session cookie."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Request
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session, sessionmaker
from starlette.responses import RedirectResponse, Response

from missive_server.auth import Principal
from missive_server.errors import BadRequest, NotFound
from missive_server.pagination import cursor_page
from missive_server.schemas.attachments import download_path
from missive_server.services.conversations import conversations
from missive_server.services.conversations.conversation_views import load_views
from missive_server.services.directory.principals import principal_for_user
from missive_server.services.web import actions as web_actions
from missive_server.services.web import inbox as web_inbox
from missive_server.web import render
from missive_server.web.database_route import DatabaseThreadRoute
from missive_server.web.session import COOKIE, WebSession, csrf_ok, signer_of

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.globals.update(
    sanitize_email=render.sanitize_email,
    text_html=render.text_html,
    markdown_html=render.markdown_html,
    full_time=render.full_time,
    safe_link=render.safe_link,
    safe_image=render.safe_image,
    download_path=download_path,
    inline_map=lambda files: {a.id: download_path(a) for a in files},
    pretty_json=render.pretty_json,
)
router = APIRouter(include_in_schema=False, route_class=DatabaseThreadRoute)

#: Sidebar mailboxes: (slug, label, the REST filter they use).
MAILBOXES = [
    ("inbox", "Inbox", {"inbox": True}),
    ("all", "All", {"all": True}),
    ("assigned", "Assigned", {"assigned": True}),
    ("closed", "Closed", {"closed": True}),
    ("snoozed", "Snoozed", {"snoozed": True}),
    ("starred", "Starred", {"flagged": True}),
    ("trash", "Trash", {"trashed": True}),
    ("spam", "Spam", {"junked": True}),
    ("drafts", "Drafts", {"drafts": True}),
]
PAGE_SIZE = 25


@contextmanager
def db_session(request: Request) -> Iterator[Session]:
    factory: sessionmaker[Session] = request.app.state.session_factory
    with factory() as session:
        yield session


def _web_session(request: Request) -> WebSession | None:
    return signer_of(request).load(request.cookies.get(COOKIE))


def signed_in(request: Request, session: Session) -> tuple[Principal, WebSession] | None:
    web = _web_session(request)
    principal = principal_for_user(session, web.user_id) if web else None
    return (principal, web) if principal and web else None


@dataclass(frozen=True, slots=True)
class SignedPost:
    """A form POST from a signed-in user whose CSRF token matched, with its open session."""

    session: Session
    actor: Principal
    web: WebSession
    form: dict[str, str]


async def signed_post(request: Request, handle: Callable[[SignedPost], Response]) -> Response:
    """Every state-changing form goes through here: signed out -> sign-in page, wrong or missing
    CSRF token -> 403 before ``handle`` runs (so nothing changes)."""
    form = await read_form(request)
    with db_session(request) as session:
        signed = signed_in(request, session)
        if signed is None:
            return to_sign_in()
        actor, web = signed
        if not csrf_ok(web, form.get("csrf")):
            return Response("Invalid form token", status_code=403)
        return handle(SignedPost(session, actor, web, form))


async def read_form(request: Request) -> dict[str, str]:
    body = (await request.body()).decode("utf-8", "replace")
    form = {k: v[0] for k, v in parse_qs(body).items()}
    if any("\x00" in k or "\x00" in v for k, v in form.items()):
        # The API's rule for every request (api/input_guard): PostgreSQL text cannot hold NUL.
        raise BadRequest("Form fields must not contain NUL characters")
    return form


def to_sign_in() -> Response:
    return RedirectResponse("/sign-in", status_code=303)


def render_page(
    request: Request, name: str, context: dict[str, Any], status: int = 200
) -> Response:
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    form = await read_form(request)
    if not csrf_ok(_web_session(request), form.get("csrf")):
        return Response("Invalid form token", status_code=403)
    response = RedirectResponse("/sign-in", status_code=303)
    response.delete_cookie(COOKIE)
    return response


@router.get("/")
async def home(request: Request) -> Response:
    return await mailbox(request, "inbox")


def _filters(slug: str, request: Request) -> tuple[str, conversations.MailboxFilters] | None:
    for key, title, flags in MAILBOXES:
        if key == slug:
            return title, conversations.MailboxFilters(**flags)  # type: ignore[arg-type]
    team, label = request.query_params.get("team"), request.query_params.get("label")
    if slug == "team" and team:
        return "Team", conversations.MailboxFilters(team_inbox=team)
    if slug == "label" and label:
        return "Label", conversations.MailboxFilters(shared_label=label)
    return None


@router.get("/m/{slug}")
async def mailbox(request: Request, slug: str) -> Response:
    with db_session(request) as session:
        signed = signed_in(request, session)
        if signed is None:
            return to_sign_in()
        actor, web = signed
        chosen = _filters(slug, request)
        if chosen is None:
            return _not_found(request, session, actor, web)
        title, filters = chosen
        until = request.query_params.get("until")
        page = cursor_page(PAGE_SIZE, int(until) if until and until.isdigit() else None,
                           default=PAGE_SIZE, maximum=PAGE_SIZE)  # fmt: skip
        try:
            found = conversations.list_conversations(
                session, actor=actor, filters=filters, page=page
            )
        except NotFound:
            return _not_found(request, session, actor, web)
        views = load_views(session, found, actor=actor)
        side = web_inbox.sidebar(session, actor=actor)
        title = _title(title, slug, request, side)
        older = None
        if len(found) >= PAGE_SIZE:
            query = dict(request.query_params) | {"until": str(_activity(views[-1], actor) - 1)}
            older = f"{request.url.path}?{urlencode(query)}"
        context = base_context(request, actor, web, side, active=_active(slug, request))
        context |= {
            "title": title,
            "views": views,
            "previews": web_inbox.previews(session, [c.id for c in found]),
            "older": older,
            "me": actor.user_id,
            "live": "list",
        }
        return render_page(request, "mailbox.html", context)


def _activity(view: Any, actor: Principal) -> int:
    for user, state in view.users:
        if user.id == actor.user_id:
            return int(state.last_activity_at)
    return int(view.conversation.last_activity_at)


def _title(title: str, slug: str, request: Request, side: web_inbox.Sidebar) -> str:
    if slug == "team":
        names = {t.id: t.name for t in side.teams}
        return names.get(request.query_params.get("team", ""), title)
    if slug == "label":
        labels = {label.id: name for label, name in side.labels}
        return labels.get(request.query_params.get("label", ""), title)
    return title


def _active(slug: str, request: Request) -> str:
    return slug + ":" + request.query_params.get("team", request.query_params.get("label", ""))


def base_context(
    request: Request, actor: Principal, web: WebSession, side: web_inbox.Sidebar, *, active: str
) -> dict[str, Any]:
    return {
        "actor": actor,
        "csrf": web.csrf,
        "sidebar": side,
        "mailboxes": MAILBOXES,
        "active": active,
        "now": request.app.state.clock.now(),
        "short_time": render.short_time,
    }


def _not_found(request: Request, session: Session, actor: Principal, web: WebSession) -> Response:
    context = base_context(request, actor, web, web_inbox.sidebar(session, actor=actor), active="")
    return render_page(request, "not_found.html", context, status=404)


@router.get("/c/{conversation_id}")
async def conversation(request: Request, conversation_id: str) -> Response:
    with db_session(request) as session:
        signed = signed_in(request, session)
        if signed is None:
            return to_sign_in()
        actor, web = signed
        try:
            found = conversations.read_visible_conversation(
                session, actor=actor, conversation_id=conversation_id
            )
        except NotFound:
            return _not_found(request, session, actor, web)
        if found.id != conversation_id:
            return RedirectResponse(f"/c/{found.id}", status_code=303)
        web_inbox.mark_read(
            session, actor=actor, conversation_id=found.id, now=request.app.state.clock.now()
        )
        session.commit()
        view = load_views(session, [found], actor=actor)[0]
        entries = web_inbox.timeline(session, actor=actor, conversation_id=found.id)
        context = base_context(
            request, actor, web, web_inbox.sidebar(session, actor=actor), active="conversation:"
        )
        context |= {"view": view, "entries": entries, "conversation": found}
        context["live"] = f"conversation:{found.id}"
        context["members"] = web_actions.members(session, found.organization_id)  # actions form
        return render_page(request, "conversation.html", context)
