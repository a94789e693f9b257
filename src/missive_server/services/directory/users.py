"""Users of the caller's organizations (spec 2.13)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from missive_server.auth import Principal
from missive_server.db.models import Membership, User
from missive_server.errors import not_found
from missive_server.pagination import OffsetPage
from missive_server.services.directory.organizations import organization_filter


def list_users(
    session: Session, *, actor: Principal, organization_id: str | None, page: OffsetPage
) -> Sequence[User]:
    organizations = organization_filter(actor, organization_id)
    in_scope = select(Membership.user_id).where(Membership.organization_id.in_(organizations))
    return session.scalars(
        select(User)
        .where(User.id.in_(in_scope))
        .order_by(User.name, User.id)
        .limit(page.limit)
        .offset(page.offset)
    ).all()


def require_users_in_organization(
    session: Session, organization_id: str, user_ids: Sequence[str]
) -> list[str]:
    """Every id must be a member of the organization; others are unknown (404)."""
    wanted = list(dict.fromkeys(user_ids))
    if not wanted:
        return []
    found = set(
        session.scalars(
            select(Membership.user_id).where(
                Membership.organization_id == organization_id, Membership.user_id.in_(wanted)
            )
        )
    )
    for user_id in wanted:
        if user_id not in found:
            raise not_found("User", user_id)
    return wanted
