"""What every command shares: the console for notes and errors, failing with a message that
names the fix, and an engine or migrated database session that reports connection errors
plainly. Commands import this; it imports no command."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from missive_server.db import migrate as migrations
from missive_server.db.engine import engine_from_settings
from missive_server.services.sessions import session_factory
from missive_server.settings import Settings


def stderr() -> Console:
    # soft_wrap: long messages and tokens stay on one line, so they copy and grep whole.
    return Console(stderr=True, soft_wrap=True)


def fail(message: str) -> NoReturn:
    stderr().print(f"[bold red]Error:[/] {escape(message)}")
    raise typer.Exit(1)


def url_of(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


@contextmanager
def open_engine(settings: Settings) -> Iterator[Engine]:
    engine = engine_from_settings(settings)
    try:
        yield engine
    except OperationalError as error:
        fail(f"Cannot use the database {url_of(engine)}: {error.orig or error}")
    finally:
        engine.dispose()


@contextmanager
def open_database(settings: Settings) -> Iterator[Session]:
    """A migrated database and one transaction: committed on success, rolled back otherwise."""
    with open_engine(settings) as engine:
        migrations.upgrade(engine)
        with session_factory(engine, public_url=settings.public_base)() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
