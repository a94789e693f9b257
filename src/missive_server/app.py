"""The composition root: ``create_app`` builds every collaborator; nothing is a module global."""

from __future__ import annotations

import asyncio
import functools
import ssl
import threading
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from missive_server import __version__
from missive_server.api import (
    analytics,
    canned_responses,
    contact_books,
    contact_groups,
    contacts,
    conversation_entries,
    conversation_updates,
    conversations,
    drafts,
    emulator,
    files,
    hook_deliveries,
    hooks,
    messages,
    organizations,
    posts,
    shared_labels,
    tasks,
    teams,
    users,
)
from missive_server.api.emulator_faults import FaultBook, FaultMiddleware
from missive_server.api.errors import install_error_handlers
from missive_server.api.middleware import RequestGuard
from missive_server.api.openapi import install_openapi
from missive_server.api.rate_limit import RateLimitMiddleware, rate_limiter
from missive_server.clock import Clock, EmulatorClock, SystemClock
from missive_server.db.engine import engine_from_settings
from missive_server.db.threads import DatabaseThreads
from missive_server.delivery.handlers import build_handlers, build_policies
from missive_server.delivery.worker import Worker
from missive_server.schemas.base import ErrorEnvelope
from missive_server.services import sessions
from missive_server.services.directory.token_cache import TokenCache
from missive_server.services.outbox import RetryPolicy
from missive_server.settings import Settings
from missive_server.web.app import install_web_ui
from missive_server.web.live import LiveHub
from missive_server.web.not_found import page_not_found

#: Busiest first: FastAPI tries the routers in this order on every request, and each one
#: passed over costs a scan of its routes (the paths do not overlap, so order is free).
V1_ROUTERS = (
    posts.router,
    conversations.router,
    messages.router,
    drafts.router,
    conversation_entries.router,
    conversation_updates.router,
    organizations.router,
    users.router,
    teams.router,
    shared_labels.router,
    tasks.router,
    analytics.router,
    canned_responses.router,
    contacts.router,
    contact_books.router,
    contact_groups.router,
    hook_deliveries.router,
    hooks.router,
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
        lifespan=_lifespan,
    )
    app.state.settings = settings
    app.state.clock = clock or SystemClock()
    if settings.emulator and not isinstance(app.state.clock, EmulatorClock):
        # /_emulator/clock moves this one clock, which the API and the worker thread share.
        app.state.clock = EmulatorClock(app.state.clock)
    # The web app's live streams wake on commits of this process (and, with Redis, of others).
    app.state.live_hub = LiveHub(settings.redis_url)
    app.state.database_threads = DatabaseThreads(settings.db_threads)
    bind_database(app, engine or engine_from_settings(settings))

    # Each router straight onto the app, not through a /v1 router: FastAPI matches included
    # routers lazily, level by level, so one level less is measurably cheaper per request.
    for router in V1_ROUTERS:
        app.include_router(router, prefix="/v1", responses=ERROR_RESPONSES)
    # Attachment URLs carry their own token, so no 401; the request guard's errors still apply.
    app.include_router(
        files.router, responses={s: ERROR_RESPONSES[s] for s in (400, 404, 413, 429)}
    )
    if settings.emulator:
        app.include_router(emulator.router, responses=ERROR_RESPONSES)
    if settings.web_ui:
        install_web_ui(app, settings)

    install_error_handlers(app, page_not_found=page_not_found if settings.web_ui else None)
    install_openapi(app)
    if settings.emulator:
        app.state.faults = FaultBook()
        app.add_middleware(FaultMiddleware, book=app.state.faults, clock=app.state.clock)
    if settings.rate_limit == "missive":
        app.add_middleware(RateLimitMiddleware, limiter=rate_limiter(settings))
    # Added last so it runs first: oversized bodies are refused before anything else.
    app.add_middleware(RequestGuard, max_body_bytes=settings.max_body_bytes)
    return app


#: How long shutdown waits for a delivery in progress (longer than the SMTP timeout).
WORKER_STOP_SECONDS = 35


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """httpx's default verification context, built once per process: loading the CA bundle
    took 60-290 ms, three quarters of ``create_app``, paid again by every app a test builds."""
    return httpx.create_ssl_context()


def http_client() -> httpx.Client:
    """Outgoing HTTP (channel webhooks): redirects are not followed, a target is what it says."""
    return httpx.Client(timeout=15, follow_redirects=False, verify=_tls_context())


def build_worker(
    settings: Settings,
    session_factory: sessionmaker[Session],
    *,
    clock: Clock,
    client: httpx.Client,
) -> Worker:
    """The delivery worker of ``serve`` (a thread) and of ``missive-server worker``."""
    return Worker(
        session_factory,
        clock=clock,
        handlers=build_handlers(settings, http_client=client, clock=clock),
        policy=RetryPolicy(settings.delivery_max_attempts, settings.delivery_backoff_seconds),
        policies=build_policies(settings),
        lease_seconds=settings.delivery_lease_seconds,
    )


def bind_database(app: FastAPI, engine: Engine) -> None:
    """Everything the app builds on its engine, in one place: ``create_app`` calls it, and the
    pytest plugin (``missive_server.testing``) calls it again between tests to give a running
    app a fresh database without rebuilding it (rebuilding costs ~50 ms, this well under 1 ms).
    State derived from the database (caches keyed by its rows) belongs here for that reason.
    The caller disposes of the previous engine."""
    app.state.engine = engine
    # A fresh cache per database: principals read from the previous one must not answer here.
    app.state.token_cache = TokenCache(app.state.clock, ttl=app.state.settings.token_cache_seconds)
    app.state.session_factory = sessions.session_factory(
        engine, public_url=app.state.settings.public_base, notify=app.state.live_hub.notify
    )
    client: httpx.Client | None = getattr(app.state, "http_client", None)
    # Kept across rebinds: building a client loads the CA store (15-120 ms measured).
    _install_worker(app, client if client is not None and not client.is_closed else None)


def _install_worker(app: FastAPI, client: httpx.Client | None = None) -> None:
    """``app.state.worker`` exists whether or not its thread runs: tests call ``run_once()``."""
    app.state.http_client = client or http_client()
    app.state.worker = build_worker(
        app.state.settings,
        app.state.session_factory,
        clock=app.state.clock,
        client=app.state.http_client,
    )


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Background services of a serving process. (The rate limiter closes its Redis pool from
    its middleware, which sees the same lifespan events.)"""
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(_delivery_worker(app))
        # Threads start on the first request; at shutdown they finish their work and stop.
        stack.push_async_callback(asyncio.to_thread, app.state.database_threads.close)
        yield


@asynccontextmanager
async def _delivery_worker(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    if app.state.http_client.is_closed:  # the same app served before (tests restart apps)
        _install_worker(app)
    stop, thread = threading.Event(), None
    if settings.run_worker:
        thread = threading.Thread(
            target=app.state.worker.run_forever,
            args=(stop, settings.worker_poll_seconds),
            name="missive-delivery-worker",
            daemon=True,
        )
        thread.start()
    try:
        yield
    finally:
        stop.set()
        if thread is not None:
            # Off the event loop: a delivery in progress may take up to the SMTP timeout.
            await asyncio.to_thread(thread.join, WORKER_STOP_SECONDS)
        app.state.http_client.close()


def app_from_environment() -> FastAPI:
    """Uvicorn's app factory for ``missive-server serve``: each worker process builds its own."""
    return create_app(Settings())
