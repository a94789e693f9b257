"""Idempotency keys: a retried write runs once; its answer is stored and replayed (issue 14).

The key's row is the truth and is shared by every process on the database:

1. ``reserve`` inserts the row as a reservation (``status`` NULL, a random ``owner`` and a
   lease) and the caller commits it at once, in its own short transaction, so a second request
   with the key, from any process or host, sees it and is told to wait (``InFlight``).
2. The request runs. ``complete`` writes the answer into the row *in the request's own
   transaction*, on the condition that the reservation is still this request's: the change and
   its stored answer commit together or not at all.
3. A request that fails (5xx, an exception, a failed commit) calls ``release``: the row goes,
   nothing is stored, and a retry runs the write again. A process killed mid-request leaves its
   reservation until the lease ends; then the next request with the key takes it over. Were the
   first request still running (slower than the lease), its ``complete`` finds the row no
   longer its own and its transaction is rolled back, so the write still happens once.

Concurrency: the reservation is an ``INSERT ... ON CONFLICT DO NOTHING`` on the primary key,
so of two concurrent inserts exactly one wins on either database (PostgreSQL makes the second
wait for the first's short transaction; SQLite has one writer at a time). Takeovers and
completions are conditional ``UPDATE``s on ``owner``, serialized by the row lock (PostgreSQL)
or the write lock (SQLite). Services never commit: the HTTP layer does (``api.idempotency``).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, bindparam, delete, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from missive_server.db.models import IdempotencyKey

KEY_MAX_LENGTH = 255


def key_problem(key: str) -> str | None:
    """Why ``key`` is not a valid ``Idempotency-Key``, or ``None``: 1-255 printable ASCII."""
    if not 1 <= len(key) <= KEY_MAX_LENGTH:
        return f"Idempotency-Key must be 1 to {KEY_MAX_LENGTH} characters long"
    if not all(" " <= c <= "~" for c in key):
        return "Idempotency-Key must contain printable ASCII characters only"
    return None


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What a repeat must match: method, path with query string, and the body's SHA-256."""

    method: str
    path: str
    body_sha256: str

    @classmethod
    def of(cls, method: str, path: str, body: bytes) -> Fingerprint:
        return cls(method, path, hashlib.sha256(body).hexdigest())


@dataclass(frozen=True, slots=True)
class Answer:
    """A stored response: status, the headers worth replaying, and the exact body bytes."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True, slots=True)
class Reserved:
    owner: str


@dataclass(frozen=True, slots=True)
class InFlight:
    """The first request with the key is still running (or died less than a lease ago)."""

    retry_after: int


@dataclass(frozen=True, slots=True)
class Mismatch:
    """The key was first used for another request; ``what`` names how this one differs."""

    what: str


@dataclass(frozen=True, slots=True)
class Replay:
    answer: Answer


Outcome = Reserved | InFlight | Mismatch | Replay


@dataclass(frozen=True, slots=True)
class KeyScope:
    user_id: str
    key: str


def reserve(
    session: Session,
    scope: KeyScope,
    fingerprint: Fingerprint,
    *,
    now: int,
    ttl: int,
    lease: int,
) -> Outcome:
    """Reserve the key for this request, or say why not. The caller commits either way."""
    owner = str(uuid.uuid4())
    values: dict[str, Any] = {
        "user_id": scope.user_id,
        "key": scope.key,
        "method": fingerprint.method,
        "path": fingerprint.path,
        "body_sha256": fingerprint.body_sha256,
        "owner": owner,
        "locked_until": now + lease,
        "status": None,
        "headers": None,
        "body": None,
        "created_at": now,
        "expires_at": now + ttl,
    }
    # A row deleted between our insert and our read (its request failed) is retried once more.
    for _ in range(3):
        if _insert(session, values):
            return Reserved(owner)
        row = _find(session, scope)
        if row is None:
            continue
        if row.expires_at <= now or (row.status is None and (row.locked_until or 0) <= now):
            return _take_over(session, scope, row, values)
        return _existing(row, fingerprint, now)
    return InFlight(retry_after=1)


_TABLE: Table = IdempotencyKey.__table__  # type: ignore[assignment]  # a Table at run time
_INSERT_COLUMNS = [column.name for column in _TABLE.columns]


def _insert_statement(dialect: Any) -> Any:
    statement = dialect.insert(_TABLE).values({c: bindparam(c) for c in _INSERT_COLUMNS})
    # RETURNING, not rowcount: psycopg reports -1 for an INSERT that conflicted.
    return statement.on_conflict_do_nothing().returning(_TABLE.c.owner)


#: Built once (building a statement per request cost as much as running it; bench/README.md).
_INSERTS = {"sqlite": _insert_statement(sqlite), "postgresql": _insert_statement(postgresql)}
_MINE = (
    (_TABLE.c.user_id == bindparam("scope_user"))
    & (_TABLE.c.key == bindparam("scope_key"))
    & (_TABLE.c.owner == bindparam("scope_owner"))
    & _TABLE.c.status.is_(None)
)
_COMPLETE = (
    update(_TABLE)
    .where(_MINE)
    .values(
        status=bindparam("answer_status"),
        headers=bindparam("answer_headers", type_=_TABLE.c.headers.type),
        body=bindparam("answer_body", type_=_TABLE.c.body.type),
        locked_until=None,
    )
)
_RELEASE = delete(_TABLE).where(_MINE)


#: The reservation's commit need not wait for PostgreSQL's WAL flush: the request's own commit
#: comes later in the same WAL and flushes it too, so a stored answer never outlives its
#: reservation; and a reservation lost in a database crash lost its request with it (the retry
#: runs the write). Saves an fsync per keyed write. (SQLite in WAL mode with
#: ``synchronous=NORMAL`` does not sync on commit anyway.)
_ASYNC_COMMIT = text("SET LOCAL synchronous_commit TO OFF")


def _insert(session: Session, values: dict[str, Any]) -> bool:
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(_ASYNC_COMMIT)
        statement = _INSERTS["postgresql"]
    else:
        statement = _INSERTS["sqlite"]
    return connection.execute(statement, values).first() is not None


def _find(session: Session, scope: KeyScope) -> IdempotencyKey | None:
    statement = select(IdempotencyKey).where(
        IdempotencyKey.user_id == scope.user_id, IdempotencyKey.key == scope.key
    )
    return session.execute(statement.execution_options(populate_existing=True)).scalar()


def _take_over(
    session: Session, scope: KeyScope, row: IdempotencyKey, values: dict[str, Any]
) -> Outcome:
    """The row expired, or its request died: claim it if nobody else did since we read it."""
    statement = (
        update(IdempotencyKey)
        .where(
            IdempotencyKey.user_id == scope.user_id,
            IdempotencyKey.key == scope.key,
            IdempotencyKey.owner == row.owner,
            IdempotencyKey.expires_at == row.expires_at,
        )
        .values({k: v for k, v in values.items() if k not in ("user_id", "key")})
        .execution_options(synchronize_session=False)
    )
    if session.execute(statement).rowcount:  # type: ignore[attr-defined]
        return Reserved(str(values["owner"]))
    return InFlight(retry_after=1)


def _existing(row: IdempotencyKey, fingerprint: Fingerprint, now: int) -> Outcome:
    if row.method != fingerprint.method or row.path != fingerprint.path:
        return Mismatch(f"was first used for {row.method} {row.path}")
    if row.body_sha256 != fingerprint.body_sha256:
        return Mismatch("was first used with a different request body")
    if row.status is None:
        return InFlight(retry_after=max(1, min((row.locked_until or now) - now, 5)))
    headers = [(str(name), str(value)) for name, value in row.headers or []]
    return Replay(Answer(row.status, headers, row.body or b""))


def _mine(scope: KeyScope, owner: str) -> dict[str, Any]:
    return {"scope_user": scope.user_id, "scope_key": scope.key, "scope_owner": owner}


def complete(session: Session, scope: KeyScope, owner: str, answer: Answer) -> bool:
    """Store the answer in the caller's transaction; ``False`` when the reservation is no
    longer ``owner``'s (its lease ran out and another request took the key over)."""
    parameters = {
        **_mine(scope, owner),
        "answer_status": answer.status,
        "answer_headers": [list(pair) for pair in answer.headers],
        "answer_body": answer.body,
    }
    return bool(session.connection().execute(_COMPLETE, parameters).rowcount)


def release(session: Session, scope: KeyScope, owner: str) -> None:
    """Give the key up after a failure: nothing is stored, a retry runs the request again."""
    session.connection().execute(_RELEASE, _mine(scope, owner))


def purge_expired(session: Session, *, now: int) -> int:
    """Delete keys past their lifetime; returns how many. (Reservations of requests still
    running are younger than the lifetime, which is far longer than any lease.)"""
    result = session.execute(
        delete(IdempotencyKey)
        .where(IdempotencyKey.expires_at <= now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
