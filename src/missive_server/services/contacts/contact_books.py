"""Contact books (spec 2.3): who can access them, listing, and creating them outside the API.

Missive has no API to create books; ``missive-server contact-books create`` and the seed file
call ``create_contact_book``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from missive_server.auth import Principal
from missive_server.db.models import (
    ContactBook,
    ContactBookUser,
    Membership,
    Organization,
    Team,
    TeamMember,
    User,
)
from missive_server.errors import BadRequest, not_found
from missive_server.ids import new_id
from missive_server.pagination import OffsetPage
from missive_server.services.directory.teams import require_team_in_organization
from missive_server.services.directory.users import require_users_in_organization

RESOURCE = "Contact book"


@dataclass(frozen=True, slots=True)
class ContactBookView:
    book: ContactBook
    share_with_users: list[str]


def accessible(actor: Principal) -> ColumnElement[bool]:
    """Own personal books; books of the caller's organizations they own or that are shared with
    the organization, a team they are in, or them."""
    my_teams = select(TeamMember.team_id).where(TeamMember.user_id == actor.user_id)
    shared_with_me = select(ContactBookUser.contact_book_id).where(
        ContactBookUser.user_id == actor.user_id
    )
    return or_(
        and_(ContactBook.organization_id.is_(None), ContactBook.user_id == actor.user_id),
        and_(
            ContactBook.organization_id.in_(actor.organization_ids),
            or_(
                ContactBook.user_id == actor.user_id,
                ContactBook.share_with_organization.is_(True),
                ContactBook.share_with_team_id.in_(my_teams),
                ContactBook.id.in_(shared_with_me),
            ),
        ),
    )


def require_book(session: Session, actor: Principal, book_id: str) -> ContactBook:
    """A book the caller cannot access behaves exactly like an unknown one (404)."""
    book = session.scalar(select(ContactBook).where(ContactBook.id == book_id, accessible(actor)))
    if book is None:
        raise not_found(RESOURCE, book_id)
    return book


def accessible_books(session: Session, actor: Principal, book_ids: Sequence[str]) -> set[str]:
    if not book_ids:
        return set()
    return set(
        session.scalars(
            select(ContactBook.id).where(ContactBook.id.in_(set(book_ids)), accessible(actor))
        )
    )


def list_contact_books(
    session: Session, *, actor: Principal, page: OffsetPage
) -> list[ContactBookView]:
    books = session.scalars(
        select(ContactBook)
        .where(accessible(actor))
        .order_by(ContactBook.name, ContactBook.id)
        .limit(page.limit)
        .offset(page.offset)
    ).all()
    users = share_with_users_of(session, [b.id for b in books])
    return [ContactBookView(b, users[b.id]) for b in books]


def share_with_users_of(session: Session, book_ids: Sequence[str]) -> dict[str, list[str]]:
    users: dict[str, list[str]] = {book_id: [] for book_id in book_ids}
    if users:
        rows = session.execute(
            select(ContactBookUser.contact_book_id, ContactBookUser.user_id)
            .where(ContactBookUser.contact_book_id.in_(users))
            .order_by(ContactBookUser.user_id)
        )
        for book_id, user_id in rows:
            users[book_id].append(user_id)
    return users


@dataclass(frozen=True, slots=True)
class ContactBookSpec:
    name: str
    owner_id: str
    organization_id: str | None = None
    description: str | None = None
    share_with_organization: bool = False
    share_with_team_id: str | None = None
    share_with_user_ids: tuple[str, ...] = ()
    exclude_from_search: bool = False


def create_contact_book(session: Session, spec: ContactBookSpec, *, now: int) -> ContactBook:
    """Sharing needs an organization; the owner, team and users must belong to it."""
    org = spec.organization_id
    if org is None and (
        spec.share_with_organization or spec.share_with_team_id or spec.share_with_user_ids
    ):
        raise BadRequest("a personal contact book (no organization) cannot be shared")
    if not spec.name.strip():
        raise BadRequest("a contact book needs a name")
    if org is not None:
        require_users_in_organization(session, org, [spec.owner_id])
    team = spec.share_with_team_id
    book = ContactBook(
        id=new_id(),
        organization_id=org,
        user_id=spec.owner_id,
        name=spec.name.strip(),
        description=spec.description,
        share_with_organization=spec.share_with_organization,
        share_with_team_id=require_team_in_organization(session, org, team)
        if org and team
        else None,
        exclude_from_search=spec.exclude_from_search,
        created_at=now,
    )
    session.add(book)
    session.flush()
    users = require_users_in_organization(session, org, spec.share_with_user_ids) if org else []
    session.add_all(ContactBookUser(contact_book_id=book.id, user_id=u) for u in users)
    session.flush()
    return book


def owner_of(session: Session, organization_id: str) -> str | None:
    """The default owner of a seeded organization book: its earliest owner, else admin."""
    rows = session.execute(
        select(Membership.user_id, Membership.role).where(
            Membership.organization_id == organization_id
        )
    ).all()
    for role in ("owner", "admin", "user"):
        for user_id, found in sorted(rows):
            if found == role:
                return str(user_id)
    return None


@dataclass(frozen=True, slots=True)
class ContactBookRefs:
    """A book described the way a person types it: organization and team by id or name,
    users by email (``missive-server contact-books create``)."""

    name: str
    organization: str | None = None
    owner: str | None = None
    description: str | None = None
    share_with_organization: bool = False
    share_with_team: str | None = None
    share_with_users: tuple[str, ...] = ()
    exclude_from_search: bool = False


def create_contact_book_from_refs(
    session: Session, refs: ContactBookRefs, *, now: int
) -> ContactBook:
    org = _organization(session, refs.organization) if refs.organization else None
    if refs.owner is not None:
        owner_id = _user_id(session, refs.owner)
    elif org is not None and (found := owner_of(session, org.id)) is not None:
        owner_id = found
    else:
        raise BadRequest("--owner is required for a personal book (or an empty organization)")
    team = _team_id(session, org, refs.share_with_team) if refs.share_with_team else None
    spec = ContactBookSpec(
        name=refs.name,
        owner_id=owner_id,
        organization_id=org.id if org else None,
        description=refs.description,
        share_with_organization=refs.share_with_organization,
        share_with_team_id=team,
        share_with_user_ids=tuple(_user_id(session, email) for email in refs.share_with_users),
        exclude_from_search=refs.exclude_from_search,
    )
    return create_contact_book(session, spec, now=now)


def _organization(session: Session, ref: str) -> Organization:
    found = session.get(Organization, ref) or session.scalar(
        select(Organization).where(Organization.name == ref).order_by(Organization.created_at)
    )
    if found is None:
        raise BadRequest(f"no organization has the id or name '{ref}'")
    return found


def _user_id(session: Session, email: str) -> str:
    found = session.scalar(select(User.id).where(User.email == email.strip().lower()))
    if found is None:
        raise BadRequest(f"no user has the email '{email}'")
    return found


def _team_id(session: Session, org: Organization | None, ref: str) -> str:
    if org is None:
        raise BadRequest("a personal contact book (no organization) cannot be shared")
    found = session.scalar(
        select(Team.id).where(Team.organization_id == org.id, or_(Team.id == ref, Team.name == ref))
    )
    if found is None:
        raise BadRequest(f"no team has the id or name '{ref}' in '{org.name}'")
    return found
