"""The composition root: ``create_app`` builds every collaborator; nothing is a module global."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from sqlalchemy import Engine

from missive_server import __version__
from missive_server.api import (
    conversation_entries,
    conversation_updates,
    conversations,
    files,
    messages,
    organizations,
    shared_labels,
    teams,
    users,
)
from missive_server.api.errors import install_error_handlers
from missive_server.api.middleware import RequestGuard
from missive_server.api.rate_limit import RateLimiter, RateLimitMiddleware
from missive_server.clock import Clock, SystemClock
from missive_server.db.engine import make_engine, make_session_factory
from missive_server.schemas.base import ErrorEnvelope
from missive_server.settings import Settings

V1_ROUTERS = (
    organizations.router,
    users.router,
    conversations.router,
    teams.router,
    shared_labels.router,
    messages.router,
    conversation_entries.router,
    conversation_updates.router,
)

ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorEnvelope, "description": text}
    for status, text in {
        400: "Invalid request",
        401: "Authentication token is invalid or has been revoked",
        404: "Unknown id (also ids of other organizations)",
        413: "Request body too large",
        429: "Rate limit exceeded",
    }.items()
}


def create_app(
    settings: Settings, *, clock: Clock | None = None, engine: Engine | None = None
) -> FastAPI:
    app = FastAPI(
        title="missive-server",
        version=__version__,
        description="A self-hostable server that speaks Missive's public REST API v1.",
    )
    app.state.settings = settings
    app.state.clock = clock or SystemClock()
    app.state.engine = engine or make_engine(settings.database_url)
    app.state.session_factory = make_session_factory(app.state.engine)

    v1 = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)
    for router in V1_ROUTERS:
        v1.include_router(router)
    app.include_router(v1)
    app.include_router(files.router)

    install_error_handlers(app)
    if settings.rate_limit == "missive":
        app.add_middleware(RateLimitMiddleware, limiter=RateLimiter(settings.redis_url))
    # Added last so it runs first: oversized bodies are refused before anything else.
    app.add_middleware(RequestGuard, max_body_bytes=settings.max_body_bytes)
    return app


def app_from_environment() -> FastAPI:
    """Uvicorn's app factory for ``missive-server serve``: each worker process builds its own."""
    return create_app(Settings())
