"""Principals built from the database rather than from a token: work done on a user's behalf
outside a request (the worker rendering a conversation as the author of a sent message sees it).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from missive_server.auth import Principal
from missive_server.db.models import Membership, User


def principal_for_user(session: Session, user_id: str) -> Principal | None:
    """The user with every membership, in one query (as ``tokens.authenticate``); ``None`` for
    an unknown user."""
    rows = session.execute(
        select(User.id, User.name, User.email, Membership.organization_id, Membership.role)
        .outerjoin(Membership, Membership.user_id == User.id)
        .where(User.id == user_id)
    ).all()
    if not rows:
        return None
    found_id, name, email, _, _ = rows[0]
    roles = {org_id: role for *_, org_id, role in rows if org_id is not None}
    return Principal(user_id=found_id, name=name, email=email, roles=roles)
