"""Mounting the UI: routes at ``/``, static files under ``/_static/`` with caching headers."""

from __future__ import annotations

import secrets

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

from missive_server.settings import Settings
from missive_server.web.actions import router as actions_router
from missive_server.web.activity import router as activity_router
from missive_server.web.compose import router as compose_router
from missive_server.web.live import router as live_router
from missive_server.web.password_reset import router as password_reset_router
from missive_server.web.routes import HERE, router
from missive_server.web.search import router as search_router
from missive_server.web.security import SecurityHeaders
from missive_server.web.session import SessionSigner
from missive_server.web.settings import router as settings_router
from missive_server.web.sign_in import router as sign_in_router
from missive_server.web.throttle import SignInThrottle

CACHE_CONTROL = (b"cache-control", b"public, max-age=3600")


class CachedStatic(StaticFiles):
    """One stylesheet, cached for an hour (revalidated by ETag afterwards)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_cached(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), CACHE_CONTROL]
            await send(message)

        await super().__call__(scope, receive, send_cached)


def install_web_ui(app: FastAPI, settings: Settings) -> None:
    # Without MISSIVE_WEB_SECRET a random secret is made per process: sessions end on restart
    # and are not shared by several workers.
    app.state.web_signer = SessionSigner(settings.web_secret or secrets.token_urlsafe(32))
    app.state.sign_in_throttle = SignInThrottle(settings.redis_url)
    app.mount("/_static", CachedStatic(directory=HERE / "static"), name="static")
    app.include_router(router)
    app.include_router(sign_in_router)
    app.include_router(password_reset_router)
    app.include_router(actions_router)
    app.include_router(activity_router)
    app.include_router(settings_router)
    app.include_router(compose_router)
    app.include_router(live_router)
    app.include_router(search_router)
    app.add_middleware(SecurityHeaders)
