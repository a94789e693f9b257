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


async def _current_user(request: Request, session: DbSession, clock: AppClock) -> Principal:
    token = bearer_token(request.headers.get("authorization"))
    principal = tokens.authenticate(session, token, now=clock.now()) if token else None
    if principal is None:
        raise Unauthorized()
    return principal


CurrentUser = Annotated[Principal, Depends(_current_user)]
