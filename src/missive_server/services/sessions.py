"""The session factory every entry point (app, CLI, worker, tests) uses.

It is the database layer's factory with the hook dispatcher installed: events recorded during a
transaction (``services.events``) are matched and queued as deliveries just before it commits.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from missive_server.db.engine import make_session_factory
from missive_server.services import live
from missive_server.services.events import DISPATCHER_KEY
from missive_server.services.hooks import hook_dispatch


def dispatch_events(session: Session) -> None:
    """One event record, two consumers: the live-update log, then the webhooks."""
    live.persist(session)
    hook_dispatch.dispatch(session)


def session_factory(
    engine: Engine, *, public_url: str | None = None, notify: Callable[[], None] | None = None
) -> sessionmaker[Session]:
    """``public_url`` is what payloads rendered outside a request (webhook bodies recorded at
    commit) use for ``web_url`` and file links; ``notify`` wakes the web app's event streams
    after a commit that logged events."""
    info: dict[str, object] = {DISPATCHER_KEY: dispatch_events}
    if notify is not None:
        info[live.NOTIFY_KEY] = notify
    return make_session_factory(engine, public_url=public_url, info=info)
