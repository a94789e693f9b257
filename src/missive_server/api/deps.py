"""Annotated dependency aliases. All ``async def``: no thread-pool hop per request (see
docs/architecture.md, "Route style")."""

from __future__ import annotations

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


async def _current_user(request: Request, session: DbSession) -> Principal:
    # A write with an Idempotency-Key was authenticated already (api.idempotency).
    known: Principal | None = getattr(request.state, "principal", None)
    if known is not None:
        return known
    token = bearer_token(request.headers.get("authorization"))
    if not token:
        raise Unauthorized()
    cache: TokenCache = request.app.state.token_cache
    key, principal = cache.get(token)
    if principal is not None:
        return principal
    generation = cache.generation()
    principal = tokens.authenticate(session, token)
    if principal is None:
        raise Unauthorized()
    cache.put(key, principal, generation)
    return principal


CurrentUser = Annotated[Principal, Depends(_current_user)]
