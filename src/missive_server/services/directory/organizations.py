"""Organizations the caller belongs to, and the membership checks every resource uses."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from missive_server.auth import Principal
from missive_server.db.models import Organization
from missive_server.errors import BadRequest, Forbidden, not_found
from missive_server.pagination import OffsetPage


def list_organizations(
    session: Session, *, actor: Principal, page: OffsetPage
) -> Sequence[Organization]:
    return session.scalars(
        select(Organization)
        .where(Organization.id.in_(actor.organization_ids))
        .order_by(Organization.name, Organization.id)
        .limit(page.limit)
        .offset(page.offset)
    ).all()


def require_member(actor: Principal, organization_id: str) -> str:
    """An organization the caller is not in behaves exactly like an unknown one (404)."""
    if not actor.is_member(organization_id):
        raise not_found("Organization", organization_id)
    return organization_id


def require_admin(actor: Principal, organization_id: str) -> str:
    require_member(actor, organization_id)
    if not actor.is_admin(organization_id):
        raise Forbidden("You must be an admin or owner of the organization to do this")
    return organization_id


def organization_filter(actor: Principal, organization_id: str | None) -> frozenset[str]:
    """The organizations a list is restricted to: one the caller named, or all of theirs."""
    if organization_id is None:
        return actor.organization_ids
    return frozenset({require_member(actor, organization_id)})


def single_organization(actor: Principal, organization_id: str | None, *, what: str) -> str:
    if organization_id is None:
        raise BadRequest(f"'organization' is required to {what}")
    return require_member(actor, organization_id)
