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
    }
