"""The page a browser gets for an address nothing serves (a mistyped or stale link): a page with
a title, a heading and a way back, like every other page, where the API answers JSON. The error
handlers (``api/errors.py``) receive it from ``create_app``."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from missive_server.web.routes import render_page
from missive_server.web.security import NOT_UI


def page_not_found(request: Request) -> Response | None:
    """``None`` unless a browser asks for a page (GET or HEAD, ``text/html``) outside the API."""
    wants_page = "text/html" in request.headers.get("accept", "")
    if request.method not in ("GET", "HEAD") or not wants_page:
        return None
    if request.url.path.startswith(NOT_UI):
        return None
    return render_page(request, "page_not_found.html", {}, status=404)
