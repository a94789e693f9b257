"""Web sign-in passwords (Argon2id through argon2-cffi) and one-time "forgot password" links.

Only hashes are stored: the password as an Argon2id PHC string, a reset link's secret as its
SHA-256 (the secret is random and long, so a fast hash is enough there, as for API tokens)."""

from __future__ import annotations

import contextlib
import functools
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from missive_server.auth import Principal, hash_token
from missive_server.db.models import PasswordReset, User
from missive_server.errors import BadRequest
from missive_server.ids import new_id
from missive_server.services import outbox
from missive_server.services.directory.principals import principal_for_user
from missive_server.services.outbox import RetryPolicy

#: argon2-cffi's defaults are Argon2id with RFC 9106's "low memory" profile (64 MiB, t=3).
HASHER = PasswordHasher()
MIN_LENGTH = 8
MAX_LENGTH = 1024
#: How long a reset link works, and how many may be outstanding for one user at once.
RESET_SECONDS = 30 * 60


@functools.cache
def _dummy_hash() -> str:
    """Verified when the address is unknown, so a sign-in takes as long whether or not it
    exists. Made on first use, not at import: hashing costs 64 MiB and ~0.15 s, which every
    process paid at start (bench/README.md, "Cold start")."""
    return HASHER.hash(secrets.token_urlsafe(16))


def check_password_rules(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise BadRequest(f"A password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise BadRequest(f"A password has at most {MAX_LENGTH} characters")
    return password


def set_password(*, user: User, password: str) -> None:
    user.password_hash = HASHER.hash(check_password_rules(password))


def password_matches(user: User, password: str) -> bool:
    if user.password_hash is None:
        return False
    try:
        return HASHER.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def sign_in_with_password(session: Session, *, email: str, password: str) -> Principal | None:
    """The user's principal when the address has this password, else ``None`` (the same
    answer, and about the same time, for an unknown address, a wrong password or none set)."""
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None or user.password_hash is None:
        _spend_a_verification(password)
        return None
    if not password_matches(user, password[:MAX_LENGTH]):
        return None
    if HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = HASHER.hash(password)
    return principal_for_user(session, user.id)


def _spend_a_verification(password: str) -> None:
    with contextlib.suppress(VerificationError):
        HASHER.verify(_dummy_hash(), password[:MAX_LENGTH])


@dataclass(frozen=True, slots=True)
class ResetLink:
    user: User
    secret: str
    expires_at: int


#: The outbox kind of the reset mail (delivery/password_mail.py sends it).
RESET_MAIL_KIND = "password_reset"


def request_password_reset(
    session: Session, *, email: str, now: int, base_url: str, policy: RetryPolicy
) -> None:
    """Queue a reset mail for the address's user, if any. The secret goes in the link's fragment
    (``#``), which browsers never send to a server: it stays out of access logs."""
    link = start_password_reset(session, email=email, now=now)
    if link is None:
        return
    payload = {
        "to": link.user.email,
        "name": link.user.name,
        "link": f"{base_url}/reset-password#{link.secret}",
        "minutes": RESET_SECONDS // 60,
    }
    outbox.enqueue(session, kind=RESET_MAIL_KIND, now=now, policy=policy, payload=payload)


def start_password_reset(session: Session, *, email: str, now: int) -> ResetLink | None:
    """A new one-time reset secret for the address's user (``None`` for an unknown address;
    the caller answers the same either way, so the form does not reveal who has an account)."""
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        return None
    secret = secrets.token_urlsafe(32)
    expires_at = now + RESET_SECONDS
    session.add(
        PasswordReset(
            id=new_id(), user_id=user.id, token_hash=hash_token(secret),
            created_at=now, expires_at=expires_at,
        )
    )  # fmt: skip
    return ResetLink(user, secret, expires_at)


def finish_password_reset(session: Session, *, secret: str, password: str, now: int) -> User:
    """Set the password of the link's user and spend the link (and every other outstanding
    link of that user). An unknown, used or expired link is one error: ``BadRequest``."""
    check_password_rules(password)
    reset = session.scalar(
        select(PasswordReset)
        .where(PasswordReset.token_hash == hash_token(secret))
        .with_for_update()
    )
    if reset is None or reset.used_at is not None or reset.expires_at <= now:
        raise BadRequest("This reset link is invalid, used or expired: ask for a new one")
    user = session.get(User, reset.user_id)
    if user is None:
        raise BadRequest("This reset link is invalid, used or expired: ask for a new one")
    set_password(user=user, password=password)
    session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
    )
    return user
