"""Fresh databases in milliseconds: each seed document is migrated and seeded once into a
template, and every test gets a copy of it.

SQLite: the template is a file, a copy is ``shutil.copyfile`` (under 1 ms). PostgreSQL: the
template is a database, a copy is ``CREATE DATABASE ... TEMPLATE`` (a file-level copy made by
the server, no migration). Templates live as long as their ``TemplateStore``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import secrets
import shutil
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, make_url, text

from missive_server.db import migrate
from missive_server.db.engine import make_engine
from missive_server.schemas.seed import SeedDocument
from missive_server.services import sessions
from missive_server.services.seed import demo, seed

#: ``"demo"`` (the Acme Inc. organization of ``missive-server demo``), a seed document as a
#: dict (the format of ``missive-server seed``), or ``None`` for an empty database.
Seed = str | dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class Seeded:
    """What a seed created: ``ids`` (section -> key -> id), ``tokens`` (email -> token) and the
    token of the organization owner the document names first (``None`` if it names none)."""

    ids: dict[str, dict[str, str]] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    owner_token: str | None = None


def seed_document(raw: Seed, now: int) -> SeedDocument | None:
    if raw is None:
        return None
    if raw == "demo":
        return demo.demo_document(now)
    if isinstance(raw, str):
        raise ValueError(f"seed: 'demo', a seed document (dict) or None, not {raw!r}")
    return seed.parse_document(raw)


def owner_token(document: SeedDocument | None, tokens: dict[str, str]) -> str | None:
    """The first owner's token, else the first token: what ``.token`` is for."""
    if document is None:
        return None
    for user in document.users:
        if "owner" in user.organizations.values() and user.email in tokens:
            return tokens[user.email]
    return next(iter(tokens.values()), None)


def seed_database(engine: Engine, raw: Seed, *, now: int) -> Seeded:
    document = seed_document(raw, now)
    if document is None:
        return Seeded()
    with sessions.session_factory(engine)() as session:
        result = seed.seed(session, document, now=now)
        session.commit()
    tokens = dict(result.tokens)
    return Seeded(ids=result.ids, tokens=tokens, owner_token=owner_token(document, tokens))


def seed_key(raw: Seed) -> str:
    encoded = json.dumps(raw, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class Template:
    url: str
    seeded: Seeded


class TemplateStore:
    """Templates by seed document, and copies of them. ``admin_url`` (a PostgreSQL URL whose
    user may create databases) selects PostgreSQL; ``None`` is SQLite under ``workdir``."""

    def __init__(self, workdir: Path, *, admin_url: str | None = None) -> None:
        self.workdir = workdir
        self.admin_url = admin_url
        self._templates: dict[str, Template] = {}
        self._counter = itertools.count()
        self._prefix = f"missive_{os.getpid()}_{secrets.token_hex(3)}"
        self._admin: Engine | None = None
        #: PostgreSQL takes 0.5-3 s to drop a database (measured, 15 on this machine) and
        #: ~0.1 s to copy one: copies are dropped in the background, all done by ``close``.
        self._dropper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="missive-drop")
        self._drops: list[Future[None]] = []

    @property
    def backend(self) -> str:
        return "sqlite" if self.admin_url is None else "postgresql"

    def template(self, raw: Seed, *, now: int) -> Template:
        key = seed_key(raw)
        found = self._templates.get(key)
        if found is None:
            found = self._build(key, raw, now=now)
            self._templates[key] = found
        return found

    def copy(self, template: Template) -> str:
        """A new database holding what the template holds; its URL."""
        number = next(self._counter)
        if self.admin_url is None:
            target = self.workdir / f"db-{number}.db"
            shutil.copyfile(make_url(template.url).database or "", target)
            return f"sqlite:///{target}"
        name = f"{self._prefix}_{number}"
        source = make_url(template.url).database
        self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
        return self._url(name)

    def drop(self, url: str) -> None:
        """Delete a copy (its engine must be disposed of first)."""
        database = make_url(url).database or ""
        if self.admin_url is None:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(database + suffix).unlink(missing_ok=True)
        else:
            statement = f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'
            self._drops.append(self._dropper.submit(self._execute, statement))

    def close(self) -> None:
        for template in self._templates.values():
            self.drop(template.url)
        self._templates.clear()
        self._dropper.shutdown(wait=True)
        drops, self._drops = self._drops, []
        for drop in drops:
            drop.result()  # a database left behind is an error, not a silence
        if self._admin is not None:
            self._admin.dispose()
            self._admin = None

    def _build(self, key: str, raw: Seed, *, now: int) -> Template:
        if self.admin_url is None:
            url = f"sqlite:///{self.workdir / f'template-{key}.db'}"
        else:
            url = self._url(f"{self._prefix}_t{key}")
            self._execute(f'CREATE DATABASE "{make_url(url).database}"')
        engine = make_engine(url)
        try:
            migrate.upgrade(engine)
            seeded = seed_database(engine, raw, now=now)
            if self.admin_url is None:
                # Everything into the main file, so a plain file copy is the whole database.
                with engine.connect() as connection:
                    connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        except BaseException:
            engine.dispose()
            self.drop(url)
            raise
        engine.dispose()
        return Template(url=url, seeded=seeded)

    def _url(self, database: str) -> str:
        assert self.admin_url is not None
        return make_url(self.admin_url).set(database=database).render_as_string(False)

    def _execute(self, statement: str) -> None:
        if self._admin is None:
            assert self.admin_url is not None
            self._admin = make_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with self._admin.connect() as connection:
            connection.execute(text(statement))
