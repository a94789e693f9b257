"""``/search?q=``: the conversations the signed-in user may see that match the words typed in
the search box of every page (``services/web/search``), newest activity first, 25 a page with
the inbox's ``until`` cursor behind "More"."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response

from missive_server.errors import BadRequest
from missive_server.pagination import cursor_page
from missive_server.services.conversations.conversation_views import load_views
from missive_server.services.web import inbox as web_inbox
from missive_server.services.web import search
from missive_server.web.database_route import DatabaseThreadRoute
from missive_server.web.routes import (
    PAGE_SIZE,
    base_context,
    db_session,
    render_page,
    signed_in,
    to_sign_in,
)

router = APIRouter(include_in_schema=False, route_class=DatabaseThreadRoute)


@router.get("/search")
async def search_page(request: Request) -> Response:
    with db_session(request) as session:
        signed = signed_in(request, session)
        if signed is None:
            return to_sign_in()
        actor, web = signed
        query = request.query_params.get("q", "")
        until = request.query_params.get("until", "")
        page = cursor_page(PAGE_SIZE, int(until) if until.isdigit() and len(until) < 19 else None,
                           default=PAGE_SIZE, maximum=PAGE_SIZE)  # fmt: skip
        error, found = None, search.SearchPage([], None)
        try:
            found = search.search_conversations(session, actor=actor, query=query, page=page)
        except BadRequest as refused:
            error = refused.message
        ids = [c.id for c in found.conversations]
        side = web_inbox.sidebar(session, actor=actor)
        context = base_context(request, actor, web, side, active="search:")
        context |= {
            "query": query,
            "error": error,
            "views": load_views(session, found.conversations, actor=actor),
            "snippets": search.snippets(session, ids, query),
            "more": None,
        }
        if found.until is not None:
            more = urlencode({"q": query, "until": str(found.until)})
            context["more"] = f"{request.url.path}?{more}"
        return render_page(request, "search.html", context, status=400 if error else 200)
