"""API tokens: issue, revoke, and resolve a presented token to its principal."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from missive_server.auth import Principal, hash_token, hashes_match, new_token
from missive_server.db.models import ApiToken, User
from missive_server.errors import NotFound
from missive_server.ids import new_id
from missive_server.services.directory.principals import principal_from_rows, user_with_memberships

#: Built once: every request runs it, and building a statement and its cache key each time cost
#: more than executing it (bench/cpu_per_request.py; docs/architecture.md, "Performance notes").
_AUTHENTICATE = (
    user_with_memberships()
    .add_columns(ApiToken.id, ApiToken.last_used_at, ApiToken.token_hash)
    .join(ApiToken, ApiToken.user_id == User.id)
    .where(ApiToken.token_hash == bindparam("token_hash"), ApiToken.revoked_at.is_(None))
)
#: "Last used" is kept to this many seconds: a token's row is written at most once per window,
#: not on every request (a write per request would cost more than the whole request budget).
LAST_USED_GRANULARITY = 300


def authenticate(session: Session, token: str, *, now: int | None = None) -> Principal | None:
    """One round trip: the token's user joined with every membership. With ``now``, the
    token's ``last_used_at`` is refreshed when it is older than ``LAST_USED_GRANULARITY``."""
    # Plain columns: the Core path skips the ORM's result machinery, which only entities need.
    rows = session.connection().execute(_AUTHENTICATE, {"token_hash": hash_token(token)}).all()
    if not rows or not hashes_match(rows[0][-1], token):
        return None
    token_id, last_used = rows[0][-3], rows[0][-2]
    if now is not None and (last_used is None or now - last_used >= LAST_USED_GRANULARITY):
        session.connection().execute(
            update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now)
        )
    return principal_from_rows(rows)


def list_tokens(session: Session, *, user_id: str) -> Sequence[ApiToken]:
    """The user's active tokens, newest first (revoked ones are gone for good)."""
    return session.scalars(
        select(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .order_by(ApiToken.created_at.desc(), ApiToken.id)
    ).all()


def revoke_token_by_id(session: Session, *, user_id: str, token_id: str, now: int) -> ApiToken:
    """Revoke one of the user's own tokens; another user's token behaves as unknown."""
    found = session.get(ApiToken, token_id)
    if found is None or found.user_id != user_id or found.revoked_at is not None:
        raise NotFound("No active token matches")
    found.revoked_at = now
    return found


def issue_token(
    session: Session, *, user_id: str, now: int, token: str | None = None, name: str | None = None
) -> str:
    """Store a token's hash and return the token itself (shown once, never stored)."""
    token = token or new_token()
    session.add(
        ApiToken(
            id=new_id(),
            user_id=user_id,
            token_hash=hash_token(token),
            hint=token[:16],
            name=name,
            created_at=now,
        )
    )
    return token


def ensure_token(session: Session, *, user_id: str, token: str, now: int) -> str:
    """Idempotent form used by seeding: a fixed token is stored once."""
    existing = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if existing is None:
        return issue_token(session, user_id=user_id, now=now, token=token)
    existing.user_id = user_id
    existing.revoked_at = None
    return token


def revoke_token(session: Session, *, token: str, now: int) -> None:
    found = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if found is None or found.revoked_at is not None:
        raise NotFound("No active token matches")
    found.revoked_at = now


def find_user_by_email(session: Session, email: str) -> User:
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"No user has the email '{email}'")
    return user
