"""A per-process cache of authenticated tokens, so a request costs no statement to authenticate.

Every ``/v1`` request presents a token, and its lookup (token, user and memberships in one
statement) was a fixed ~10 % of a conversation read (bench/README.md, issue 13). A principal is
kept for ``ttl`` seconds of the injected clock after it was read.

Freshness:
- in this process, any committed change to tokens, users, memberships or organizations, through
  any session (API, web UI, CLI commands run in-process, the emulator's reset), empties every
  cache at once: a listener on the ``Session`` class notices the change (ORM flush or DML through
  ``session.execute``) and bumps a process-wide generation at commit;
- in other processes (a ``missive-server token revoke`` next to a running ``serve``, another
  ``serve --workers`` process) a change is seen when the entry expires: at most ``ttl`` seconds
  later (docs/compatibility.md). Writes through a bare connection count as other processes.
Unknown tokens are never cached, so invalid tokens cannot fill the memory.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from missive_server.auth import Principal, hash_token
from missive_server.clock import Clock
from missive_server.db.models import ApiToken, Membership, Organization, User

#: Seconds a principal is served from memory. Also the longest a revoke made by another process
#: takes to be refused here.
DEFAULT_TTL_SECONDS = 5
#: More distinct tokens than this in one TTL and the cache starts over rather than grow.
MAX_ENTRIES = 10_000

_AUTH_TABLES = frozenset(m.__table__ for m in (ApiToken, Membership, Organization, User))
_AUTH_CLASSES = (ApiToken, Membership, Organization, User)
_CHANGED = "missive.auth_changed"

# Process-wide by nature: a commit in one session must reach every cache of the process (the
# app's, and an app a test builds beside it). A counter, not a registry: caches compare it.
_generation = itertools.count(1)
_current = [next(_generation)]
_lock = threading.Lock()


class TokenCache:
    def __init__(self, clock: Clock, *, ttl: int = DEFAULT_TTL_SECONDS) -> None:
        self.clock = clock
        self.ttl = ttl
        # token hash -> (principal, read at, generation when read)
        self._entries: dict[str, tuple[Principal, int, int]] = {}
        _install_listeners()

    def get(self, token: str) -> tuple[str, Principal | None]:
        """The token's hash, and its principal when cached and still fresh."""
        key = hash_token(token)
        entry = self._entries.get(key)
        if entry is None:
            return key, None
        principal, read_at, generation = entry
        now = self.clock.now()
        # A clock moved backwards (the emulator's) must not stretch an entry's life.
        if generation != _current[0] or not read_at <= now < read_at + self.ttl:
            self._entries.pop(key, None)
            return key, None
        return key, principal

    def generation(self) -> int:
        """Taken before reading the database: a change committed during the read then
        invalidates what the read returns."""
        return _current[0]

    def put(self, key: str, principal: Principal, generation: int) -> None:
        if self.ttl <= 0:
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[key] = (principal, self.clock.now(), generation)


def invalidate_all() -> None:
    """Every cache of this process forgets every principal (also called at commit)."""
    with _lock:
        _current[0] = next(_generation)


def _install_listeners() -> None:
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "do_orm_execute", _on_execute)
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_rollback", _after_rollback)


def _after_flush(session: Session, _flush: UOWTransaction) -> None:
    for instance in itertools.chain(session.new, session.dirty, session.deleted):
        if isinstance(instance, _AUTH_CLASSES):
            session.info[_CHANGED] = True
            return


def _on_execute(state: ORMExecuteState) -> None:
    # Runs on every session.execute: a class attribute first, the rest only for DML.
    statement: Any = state.statement
    if statement.is_dml and getattr(statement, "table", None) in _AUTH_TABLES:
        state.session.info[_CHANGED] = True


def _after_commit(session: Session) -> None:
    if session.info.pop(_CHANGED, False):
        invalidate_all()


def _after_rollback(session: Session) -> None:
    session.info.pop(_CHANGED, None)
