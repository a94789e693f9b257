"""Contact groups and contact organizations of a book (spec 2.4), matched by name."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from missive_server.auth import Principal
from missive_server.db.models import (
    Contact,
    ContactBook,
    ContactGroup,
    ContactInfo,
    ContactMembership,
)
from missive_server.errors import BadRequest, not_found
from missive_server.ids import new_id
from missive_server.pagination import OffsetPage
from missive_server.services.contacts.contact_books import accessible, require_book

KINDS = ("group", "organization")
RESOURCE = "Contact group"


def name_key(name: str) -> str:
    """Groups match case-insensitively and ignoring repeated spaces: "VIPs" is "vips "."""
    return " ".join(name.split()).casefold()


def list_contact_groups(
    session: Session, *, actor: Principal, book_id: str, kind: str, page: OffsetPage
) -> Sequence[ContactGroup]:
    if kind not in KINDS:
        raise BadRequest("'kind' must be one of: group, organization")
    book = require_book(session, actor, book_id)
    return session.scalars(
        select(ContactGroup)
        .where(ContactGroup.contact_book_id == book.id, ContactGroup.kind == kind)
        .order_by(ContactGroup.name_key, ContactGroup.id)
        .limit(page.limit)
        .offset(page.offset)
    ).all()


def require_group(session: Session, actor: Principal, group_id: str) -> ContactGroup:
    """A group of a book the caller cannot access behaves exactly like an unknown one (404)."""
    group = session.scalar(
        select(ContactGroup)
        .join(ContactBook, ContactBook.id == ContactGroup.contact_book_id)
        .where(ContactGroup.id == group_id, accessible(actor))
    )
    if group is None:
        raise not_found(RESOURCE, group_id)
    return group


def groups_by_name(
    session: Session, book_id: str, wanted: Sequence[tuple[str, str]], *, now: int
) -> dict[tuple[str, str], ContactGroup]:
    """``(kind, name)`` -> group, creating the missing ones; one query for the whole batch."""
    keys = {(kind, name_key(name)): name.strip() for kind, name in wanted}
    found: dict[tuple[str, str], ContactGroup] = {}
    if keys:
        rows = session.scalars(
            select(ContactGroup).where(
                ContactGroup.contact_book_id == book_id,
                ContactGroup.name_key.in_({key for _, key in keys}),
            )
        )
        found = {(g.kind, g.name_key): g for g in rows if (g.kind, g.name_key) in keys}
    for (kind, key), name in keys.items():
        if (kind, key) not in found:
            group = ContactGroup(
                id=new_id(),
                contact_book_id=book_id,
                kind=kind,
                name=name,
                name_key=key,
                created_at=now,
            )
            session.add(group)
            found[(kind, key)] = group
    # The session does not autoflush: the next contact of the batch must find these groups.
    session.flush()
    return {(kind, name): found[(kind, name_key(name))] for kind, name in wanted}


def group_addresses(group: ContactGroup) -> Select[str | None]:
    """Email addresses of the live contacts of a group (``contact_organization`` filter)."""
    return (
        select(ContactInfo.address)
        .join(ContactMembership, ContactMembership.contact_id == ContactInfo.contact_id)
        .join(Contact, Contact.id == ContactInfo.contact_id)
        .where(
            ContactMembership.group_id == group.id,
            ContactInfo.address.is_not(None),
            Contact.deleted.is_(False),
        )
    )
