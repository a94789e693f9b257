"""Contact book wire objects (spec 2.3)."""

from __future__ import annotations

from typing import Any

from missive_server.db.models import ContactBook
from missive_server.schemas.base import WireModel


class ContactBookOut(WireModel):
    id: str
    user: str
    share_with_organization: bool
    share_with_team: str | None
    share_with_users: list[str]
    organization: str | None
    name: str
    description: str | None
    exclude_from_search: bool
    importing: bool


class ContactBooksEnvelope(WireModel):
    contact_books: list[ContactBookOut]


def render_contact_book(book: ContactBook, *, share_with_users: list[str]) -> dict[str, Any]:
    return {
        "id": book.id,
        "user": book.user_id,
        "share_with_organization": book.share_with_organization,
        "share_with_team": book.share_with_team_id,
        "share_with_users": share_with_users,
        "organization": book.organization_id,
        "name": book.name,
        "description": book.description,
        "exclude_from_search": book.exclude_from_search,
        # True in Missive while an import fills the book. Ours are filled in one transaction
        # (seed, CLI), so no reader can see a book mid-import: always false, never null, since
        # Missive's recorded responses carry booleans (Airbyte's source-missive schema).
        "importing": False,
    }
