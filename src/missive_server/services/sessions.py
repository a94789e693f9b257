"""The session factory every entry point (app, CLI, worker, tests) uses.

It is the database layer's factory with the hook dispatcher installed: events recorded during a
transaction (``services.events``) are matched and queued as deliveries just before it commits.
"""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from missive_server.db.engine import make_session_factory
from missive_server.services.events import DISPATCHER_KEY
from missive_server.services.hooks import hook_dispatch


def session_factory(engine: Engine, *, public_url: str | None = None) -> sessionmaker[Session]:
    """``public_url`` is what payloads rendered outside a request (webhook bodies recorded at
    commit) use for ``web_url`` and file links."""
    return make_session_factory(
        engine, public_url=public_url, info={DISPATCHER_KEY: hook_dispatch.dispatch}
    )
