"""Who is calling: bearer tokens and the resulting principal.

Tokens are stored only as SHA-256 hashes (looked up by an index on the hash, then compared
in constant time), and never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

TOKEN_PREFIX = "missive_pat-"
ADMIN_ROLES = frozenset({"owner", "admin"})


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def hashes_match(stored_hash: str, presented_token: str) -> bool:
    return hmac.compare_digest(stored_hash, hash_token(presented_token))


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or ``None``."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


@dataclass(frozen=True, slots=True)
class Principal:
    """The token's user and the organizations they belong to, with their roles."""

    user_id: str
    name: str
    email: str
    roles: dict[str, str] = field(default_factory=dict)

    @property
    def organization_ids(self) -> frozenset[str]:
        return frozenset(self.roles)

    def is_member(self, organization_id: str | None) -> bool:
        return organization_id is not None and organization_id in self.roles

    def is_admin(self, organization_id: str | None) -> bool:
        return organization_id is not None and self.roles.get(organization_id) in ADMIN_ROLES
