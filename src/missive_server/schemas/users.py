"""User wire objects (spec 1A, 2.13)."""

from __future__ import annotations

from typing import Any, NamedTuple

from missive_server.db.models import User
from missive_server.schemas.base import WireModel


class UserOut(WireModel):
    id: str
    me: bool
    email: str
    name: str
    avatar_url: str | None


class UsersEnvelope(WireModel):
    users: list[UserOut]


class UserRef(WireModel):
    """The user object embedded in drafts, comments and tasks."""

    id: str
    name: str
    email: str
    avatar_url: str | None


def render_user(user: User, *, me_id: str) -> dict[str, Any]:
    return {
        "id": user.id,
        "me": user.id == me_id,
        "email": user.email,
        "name": user.name,
        "avatar_url": user.avatar_url,
    }


class UserRefRow(NamedTuple):
    """The ``users`` columns a user reference renders, read with Core (no ORM entity)."""

    id: str
    name: str
    email: str
    avatar_url: str | None


def render_user_ref(user: User | UserRefRow) -> dict[str, Any]:
    return {"id": user.id, "name": user.name, "email": user.email, "avatar_url": user.avatar_url}
