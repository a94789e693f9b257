"""Seeding contact books and their contacts (Missive has no API to create books).

Idempotent like the rest of seed: a book is found by name (in its organization, or among its
owner's personal books) and a contact by its names and email addresses, so re-running a
document creates nothing new.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import select

from missive_server.db.models import Contact, ContactBook, ContactInfo, Organization, User
from missive_server.errors import BadRequest
from missive_server.schemas.seed import ContactBookSeed, ContactSeed, entry_label
from missive_server.services.contacts import contacts as contacts_service
from missive_server.services.contacts.contact_books import (
    ContactBookSpec,
    create_contact_book,
    owner_of,
)
from missive_server.services.seed._context import SeedContext, SeedError

ContactKey = tuple[str, str, tuple[str, ...]]


def seed_contact_books(
    ctx: SeedContext, books: Sequence[ContactBookSeed], step: Callable[[str], None]
) -> None:
    for index, seed_book in enumerate(books):
        where = entry_label("contact_books", index, {"name": seed_book.name})
        org = (
            ctx.organization(f"{where}: organization", seed_book.organization)
            if seed_book.organization
            else None
        )
        owner = _owner(ctx, where, seed_book, org)
        book = _find_book(ctx, seed_book.name, org, owner) or _new_book(
            ctx, where, seed_book, org, owner
        )
        _seed_contacts(ctx, f"contact_books[{index}]", book, seed_book.contacts)
        ctx.record("contact_books", seed_book.name, book.id, org.name if org else "")
        step(where)


def _owner(ctx: SeedContext, where: str, seed: ContactBookSeed, org: Organization | None) -> User:
    if seed.owner is not None:
        return ctx.members(f"{where}: owner", [seed.owner], org)[0]
    assert org is not None  # the schema requires an owner for personal books
    owner_id = owner_of(ctx.session, org.id)
    user = ctx.session.get(User, owner_id) if owner_id else None
    if user is None:
        raise SeedError(f"{where}: owner: '{org.name}' has no member to own the book")
    return user


def _find_book(
    ctx: SeedContext, name: str, org: Organization | None, owner: User
) -> ContactBook | None:
    scope = (
        ContactBook.organization_id == org.id
        if org
        else (ContactBook.organization_id.is_(None) & (ContactBook.user_id == owner.id))
    )
    return ctx.session.scalar(
        select(ContactBook)
        .where(scope, ContactBook.name == name)
        .order_by(ContactBook.created_at, ContactBook.id)
        .limit(1)
    )


def _new_book(
    ctx: SeedContext, where: str, seed: ContactBookSeed, org: Organization | None, owner: User
) -> ContactBook:
    team = (
        ctx.team(f"{where}: share_with_team", org, seed.share_with_team)
        if org and seed.share_with_team
        else None
    )
    if seed.share_with_team and org is None:
        raise SeedError(f"{where}: share_with_team: a personal book cannot be shared")
    users = ctx.members(f"{where}: share_with_users", seed.share_with_users, org)
    spec = ContactBookSpec(
        name=seed.name,
        owner_id=owner.id,
        organization_id=org.id if org else None,
        description=seed.description,
        share_with_organization=seed.share_with_organization,
        share_with_team_id=team.id if team else None,
        share_with_user_ids=tuple(u.id for u in users),
        exclude_from_search=seed.exclude_from_search,
    )
    try:
        return create_contact_book(ctx.session, spec, now=ctx.now)
    except BadRequest as error:
        raise SeedError(f"{where}: {error.message}") from None


def _seed_contacts(
    ctx: SeedContext, where: str, book: ContactBook, contacts: Sequence[ContactSeed]
) -> None:
    known = _existing_keys(ctx, book.id)
    created = []
    for index, seed in enumerate(contacts):
        key = _key(
            seed.first_name,
            seed.last_name,
            [i.value for i in seed.infos or [] if i.kind == "email"],
        )
        if key in known:
            continue
        known.add(key)
        try:
            contact = contacts_service.new_contact(
                ctx.session, seed, book_id=book.id, where=f"{where}.contacts[{index}]", now=ctx.now
            )
        except BadRequest as error:
            raise SeedError(error.message) from None
        contact.deleted = seed.deleted
        created.append(contact)
    contacts_service.refresh_terms(ctx.session, created)


def _existing_keys(ctx: SeedContext, book_id: str) -> set[ContactKey]:
    rows = ctx.session.execute(
        select(Contact.id, Contact.first_name, Contact.last_name).where(
            Contact.contact_book_id == book_id
        )
    ).all()
    emails: dict[str, list[str | None]] = {row[0]: [] for row in rows}
    if emails:
        for contact_id, address in ctx.session.execute(
            select(ContactInfo.contact_id, ContactInfo.address).where(
                ContactInfo.contact_id.in_(emails), ContactInfo.kind == "email"
            )
        ):
            emails[contact_id].append(address)
    return {_key(first, last, emails[cid]) for cid, first, last in rows}


def _key(first: str | None, last: str | None, emails: Sequence[str | None]) -> ContactKey:
    addresses = tuple(sorted({(e or "").strip().lower() for e in emails if e}))
    return ((first or "").strip().casefold(), (last or "").strip().casefold(), addresses)
