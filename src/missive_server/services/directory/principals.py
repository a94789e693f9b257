"""Principals built from the database rather than from a token: work done on a user's behalf
outside a request (the worker rendering a conversation as the author of a sent message sees it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from missive_server.auth import Principal
from missive_server.db.models import Membership, User


def principal_for_user(session: Session, user_id: str) -> Principal | None:
    """The user with every membership, in one query (as ``tokens.authenticate``); ``None`` for
    an unknown user."""
    return principal_from_rows(
        session.execute(user_with_memberships().where(User.id == user_id)).all()
    )


def user_with_memberships() -> Select[str, str, str, str, str]:
    """One row per membership (or one row with nulls): the user's id, name, email, org, role."""
    return select(
        User.id, User.name, User.email, Membership.organization_id, Membership.role
    ).outerjoin(Membership, Membership.user_id == User.id)


def principal_from_rows(rows: Sequence[Sequence[Any]]) -> Principal | None:
    """The rows of ``user_with_memberships`` (extra trailing columns allowed) as a principal."""
    if not rows:
        return None
    user_id, name, email = rows[0][0], rows[0][1], rows[0][2]
    roles = {row[3]: row[4] for row in rows if row[3] is not None}
    return Principal(user_id=user_id, name=name, email=email, roles=roles)
