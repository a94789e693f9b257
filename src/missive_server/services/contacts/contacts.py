"""Contacts (spec 2.2): create and update many at once, list, search, get, delete.

A page of contacts loads in three queries whatever its size (contacts, infos, memberships with
their groups); every write rewrites the contact's search terms (services/contact_search).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import Select, delete, select
from sqlalchemy.orm import Session

from missive_server.auth import Principal
from missive_server.db.models import (
    Contact,
    ContactBook,
    ContactGroup,
    ContactInfo,
    ContactMembership,
    ContactSearchTerm,
)
from missive_server.errors import BadRequest, not_found
from missive_server.ids import new_id
from missive_server.pagination import OffsetPage
from missive_server.schemas.contacts import (
    ALL_VALUE_FIELDS,
    ORGANIZATION_ONLY,
    SCALAR_FIELDS,
    ContactFields,
    ContactIn,
    ContactPatch,
    InfoIn,
    MembershipIn,
    check_info,
    check_membership,
)
from missive_server.services.contacts import contact_search
from missive_server.services.contacts.contact_books import (
    accessible,
    accessible_books,
    require_book,
)
from missive_server.services.contacts.contact_groups import groups_by_name
from missive_server.services.directory.teams import in_path_order, match_path_ids

RESOURCE = "Contact"
Order = Literal["last_name", "last_modified"]
ORDERS = ("last_name", "last_modified")


@dataclass(slots=True)
class ContactView:
    contact: Contact
    infos: list[ContactInfo] = field(default_factory=list)
    memberships: list[tuple[ContactMembership, ContactGroup]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ContactQuery:
    book_id: str
    order: str = "last_name"
    modified_since: int | None = None
    include_deleted: bool = False
    search: str | None = None


def load_views(session: Session, contacts: Sequence[Contact]) -> list[ContactView]:
    views = {c.id: ContactView(c) for c in contacts}
    if not views:
        return []
    infos = session.scalars(
        select(ContactInfo)
        .where(ContactInfo.contact_id.in_(views))
        .order_by(ContactInfo.contact_id, ContactInfo.position)
    )
    for info in infos:
        views[info.contact_id].infos.append(info)
    rows = session.execute(
        select(ContactMembership, ContactGroup)
        .join(ContactGroup, ContactGroup.id == ContactMembership.group_id)
        .where(ContactMembership.contact_id.in_(views))
        .order_by(ContactMembership.contact_id, ContactMembership.position)
    )
    for membership, group in rows:
        views[membership.contact_id].memberships.append((membership, group))
    return [views[c.id] for c in contacts]


def list_contacts(
    session: Session, *, actor: Principal, query: ContactQuery, page: OffsetPage
) -> list[ContactView]:
    if query.order not in ORDERS:
        raise BadRequest("'order' must be one of: last_name, last_modified")
    book = require_book(session, actor, query.book_id)
    contacts = session.scalars(contacts_statement(book.id, query, page)).all()
    live = load_views(session, [c for c in contacts if not c.deleted])
    by_id = {v.contact.id: v for v in live}
    return [by_id.get(c.id) or ContactView(c) for c in contacts]


def contacts_statement(
    book_id: str, query: ContactQuery, page: OffsetPage | None = None
) -> Select[Contact]:
    """The page's contacts (every match when ``page`` is None, for the caller to cut)."""
    if page is not None and (ranked := _ranked_page(book_id, query, page)) is not None:
        return ranked
    stmt = _unpaged_statement(book_id, query)
    return stmt if page is None else stmt.limit(page.limit).offset(page.offset)


def _ranked_page(book_id: str, query: ContactQuery, page: OffsetPage) -> Select[Contact] | None:
    """A search in name order that ``contacts`` does not filter (deleted contacts have no
    terms): the page is ranked and cut in the terms, ``contacts`` only supplies its rows."""
    if not query.search or query.order != "last_name" or query.modified_since is not None:
        return None
    matches = contact_search.matching_page(book_id, query.search, page)
    if matches is None:
        return None
    return (
        select(Contact)
        .join(matches, matches.c.contact_id == Contact.id)
        .where(Contact.contact_book_id == book_id, Contact.deleted.is_(False))
        .order_by(matches.c.sort_name, matches.c.contact_id)
    )


def _unpaged_statement(book_id: str, query: ContactQuery) -> Select[Contact]:
    stmt = select(Contact).where(Contact.contact_book_id == book_id)
    # Spec 2.2.3: deleted contacts are only reported to a sync (``modified_since``).
    if not (query.include_deleted and query.modified_since is not None):
        stmt = stmt.where(Contact.deleted.is_(False))
    if query.modified_since is not None:
        stmt = stmt.where(Contact.modified_at >= query.modified_since)
    matches = contact_search.matching_ids(book_id, query.search) if query.search else None
    if matches is not None:
        stmt = stmt.join(matches, matches.c.contact_id == Contact.id)
    if query.order == "last_modified":
        return stmt.order_by(Contact.modified_at.desc(), Contact.id.desc())
    return stmt.order_by(Contact.sort_name, Contact.id)


def get_contact(session: Session, *, actor: Principal, contact_id: str) -> ContactView:
    return load_views(session, _visible_contacts(session, actor, [contact_id]))[0]


def _visible_contacts(session: Session, actor: Principal, ids: Sequence[str]) -> list[Contact]:
    """Deleted contacts and contacts of books the caller cannot access are unknown (404)."""
    found = {
        c.id: c
        for c in session.scalars(
            select(Contact)
            .join(ContactBook, ContactBook.id == Contact.contact_book_id)
            .where(Contact.id.in_(set(ids)), Contact.deleted.is_(False), accessible(actor))
        )
    }
    return in_path_order(found, ids, RESOURCE)


def create_contacts(
    session: Session, *, actor: Principal, items: Sequence[ContactIn], now: int
) -> list[ContactView]:
    """All or nothing: the first invalid item raises and the request rolls back."""
    books = accessible_books(session, actor, [item.contact_book for item in items])
    contacts = []
    for index, item in enumerate(items):
        if item.contact_book not in books:
            raise not_found("Contact book", item.contact_book)
        contacts.append(
            new_contact(
                session, item, book_id=item.contact_book, where=f"contacts[{index}]", now=now
            )
        )
    return refresh_terms(session, contacts)


def new_contact(
    session: Session, item: ContactFields, *, book_id: str, where: str, now: int
) -> Contact:
    """One validated contact with its infos and memberships (the API and seeding share it)."""
    infos = _checked_infos(where, item.infos or [])
    _check_memberships(where, item.memberships or [])
    contact = Contact(
        id=new_id(),
        contact_book_id=book_id,
        starred=bool(item.starred),
        deleted=False,
        created_at=now,
        modified_at=now,
        **{name: getattr(item, name) for name in SCALAR_FIELDS},
    )
    contact.sort_name = contact_search.sort_name(contact.first_name, contact.last_name)
    session.add(contact)
    _write_infos(session, contact, infos)
    _write_memberships(session, contact, item.memberships or [], now=now)
    return contact


def update_contacts(
    session: Session,
    *,
    actor: Principal,
    contact_ids: Sequence[str],
    items: Sequence[ContactPatch],
    now: int,
) -> list[ContactView]:
    patches = match_path_ids(contact_ids, items, key="contacts")
    contacts = _visible_contacts(session, actor, contact_ids)
    positions = {item.id.strip().lower(): index for index, item in enumerate(items)}
    for contact in contacts:
        where = f"contacts[{positions[contact.id]}]"
        _update_contact(session, contact, patches[contact.id], where=where, now=now)
    return refresh_terms(session, contacts)


def _update_contact(
    session: Session, contact: Contact, patch: ContactPatch, *, where: str, now: int
) -> None:
    given = patch.model_fields_set
    if patch.contact_book is not None and patch.contact_book != contact.contact_book_id:
        raise BadRequest(f"'{where}.contact_book' cannot be changed")
    for name in SCALAR_FIELDS:
        if name in given:
            setattr(contact, name, getattr(patch, name))
    if patch.starred is not None:
        contact.starred = patch.starred
    if patch.infos is not None:
        infos = _checked_infos(where, patch.infos)
        _delete_children(session, ContactInfo, contact.id)
        _write_infos(session, contact, infos)
    if patch.memberships is not None:
        _check_memberships(where, patch.memberships)
        _delete_children(session, ContactMembership, contact.id)
        _write_memberships(session, contact, patch.memberships, now=now)
    contact.sort_name = contact_search.sort_name(contact.first_name, contact.last_name)
    contact.modified_at = now


def _delete_children(
    session: Session, model: type[ContactInfo] | type[ContactMembership], contact_id: str
) -> None:
    for row in session.scalars(select(model).where(model.contact_id == contact_id)):
        session.delete(row)
    session.flush()


def _checked_infos(where: str, infos: Sequence[InfoIn]) -> list[InfoIn]:
    return [check_info(f"{where}.infos[{i}]", info) for i, info in enumerate(infos)]


def _check_memberships(where: str, memberships: Sequence[MembershipIn]) -> None:
    for i, membership in enumerate(memberships):
        check_membership(f"{where}.memberships[{i}]", membership)


def _write_infos(session: Session, contact: Contact, infos: Sequence[InfoIn]) -> None:
    for position, info in enumerate(infos):
        values = {name: _clean(getattr(info, name)) for name in ALL_VALUE_FIELDS}
        address = values["value"].lower() if info.kind == "email" and values["value"] else None
        session.add(
            ContactInfo(
                id=new_id(),
                contact_id=contact.id,
                position=position,
                kind=info.kind,
                label=info.label,
                custom_label=_clean(info.custom_label),
                address=address,
                **values,
            )
        )


def _clean(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


def _write_memberships(
    session: Session, contact: Contact, memberships: Sequence[MembershipIn], *, now: int
) -> None:
    wanted = [(m.group.kind, m.group.name) for m in memberships]
    groups = groups_by_name(session, contact.contact_book_id, wanted, now=now)
    for position, membership in enumerate(memberships):
        group = groups[(membership.group.kind, membership.group.name)]
        session.add(
            ContactMembership(
                id=new_id(),
                contact_id=contact.id,
                group_id=group.id,
                position=position,
                **{name: getattr(membership, name) for name in ORGANIZATION_ONLY},
            )
        )


def refresh_terms(session: Session, contacts: Sequence[Contact]) -> list[ContactView]:
    """Rewrite the search terms of these contacts from what is now stored."""
    session.flush()
    views = load_views(session, contacts)
    for view in views:
        names = [group.name for _, group in view.memberships]
        contact_search.replace_terms(session, view.contact, view.infos, names)
    session.flush()
    return views


def delete_contacts(session: Session, contact_ids: Sequence[str], *, now: int) -> list[Contact]:
    """Missive has no API for this: ``missive-server contacts delete``. Deleted contacts stay as
    sync stubs (spec 2.2.3 ``include_deleted``) and leave the search index."""
    wanted = list(dict.fromkeys(contact_ids))
    found = {c.id: c for c in session.scalars(select(Contact).where(Contact.id.in_(wanted)))}
    for contact_id in wanted:
        if contact_id not in found or found[contact_id].deleted:
            raise not_found(RESOURCE, contact_id)
    for contact in found.values():
        contact.deleted = True
        contact.modified_at = now
    session.execute(delete(ContactSearchTerm).where(ContactSearchTerm.contact_id.in_(wanted)))
    session.flush()
    return [found[i] for i in wanted]
