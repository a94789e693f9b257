"""Annotated dependency aliases. All ``async def``: no thread-pool hop per request (see
docs/architecture.md, "Route style")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from missive_server.auth import Principal, bearer_token
from missive_server.clock import Clock
from missive_server.errors import Unauthorized
from missive_server.services.directory import tokens
from missive_server.services.directory.token_cache import TokenCache
from missive_server.settings import Settings


async def _db_session(request: Request) -> Session:
    session: Session = request.state.db
    return session


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


DbSession = Annotated[Session, Depends(_db_session)]
AppSettings = Annotated[Settings, Depends(_settings)]
AppClock = Annotated[Clock, Depends(_clock)]


def authenticate_request(request: Request, session: Session) -> Principal | None:
    """The request's bearer token to its principal, once per request: from the per-process
    cache, else one lookup (which also refreshes the token's ``last_used_at``). Used by the
    ``Context`` dependency and by ``api.idempotency``, which authenticates keyed writes
    before the route runs."""
    known: Principal | None = getattr(request.state, "principal", None)
    if known is not None:
        return known
    token = bearer_token(request.headers.get("authorization"))
    if not token:
        return None
    cache: TokenCache = request.app.state.token_cache
    key, principal = cache.get(token)
    if principal is None:
        generation = cache.generation()
        clock: Clock = request.app.state.clock
        principal = tokens.authenticate(session, token, now=clock.now())
        if principal is None:
            return None
        cache.put(key, principal, generation)
    request.state.principal = principal
    return principal


@dataclass(frozen=True, slots=True)
class ApiContext:
    """What an authenticated ``/v1`` route needs of its request, as one dependency: each
    dependency is one more pass of FastAPI's solver on every request, and four of them (session,
    user, settings, clock) cost a conversation read 10 % of its CPU (bench/README.md, issue 13).
    Services still take each of these as an explicit argument."""

    session: Session
    actor: Principal
    settings: Settings
    clock: Clock


async def _api_context(request: Request) -> ApiContext:
    principal = authenticate_request(request, request.state.db)
    if principal is None:
        raise Unauthorized()
    state = request.app.state
    return ApiContext(request.state.db, principal, state.settings, state.clock)


Context = Annotated[ApiContext, Depends(_api_context)]
