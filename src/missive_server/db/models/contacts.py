"""Contact books, contacts with infos and memberships, groups, search terms (spec 2.2-2.4).

Text columns that are sorted or range-scanned (``sort_name``, ``term``) use the "C" collation on
PostgreSQL, so byte order matches SQLite's BINARY and a prefix range predicate uses the btree
whatever the database's default collation is.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from missive_server.db.base import Base
from missive_server.db.search_text import SORT_NAME_MAX, TERM_MAX
from missive_server.db.search_text import binary_string as _binary


class ContactBook(Base):
    """``organization_id`` NULL is a personal book, visible to its owner only (spec 2.3.1)."""

    __tablename__ = "contact_books"
    __table_args__ = (
        Index(None, "user_id"),
        Index(None, "organization_id"),
        Index(None, "share_with_team_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organization_id: Mapped[str | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    share_with_organization: Mapped[bool] = mapped_column(Boolean, default=False)
    share_with_team_id: Mapped[str | None] = mapped_column(
        ForeignKey("teams.id", ondelete="SET NULL")
    )
    #: Missive's book setting that keeps its contacts out of the app's global contact search
    #: and autocomplete; the API lists them as usual (a list names its book).
    exclude_from_search: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    created_at: Mapped[int] = mapped_column(BigInteger)


class ContactBookUser(Base):
    """``share_with_users`` of a contact book."""

    __tablename__ = "contact_book_users"
    __table_args__ = (Index(None, "user_id"),)

    contact_book_id: Mapped[str] = mapped_column(
        ForeignKey("contact_books.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )


class Contact(Base):
    __tablename__ = "contacts"
    __table_args__ = (
        Index(None, "contact_book_id", "deleted", "sort_name", "id"),
        Index(None, "contact_book_id", "modified_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    contact_book_id: Mapped[str] = mapped_column(ForeignKey("contact_books.id", ondelete="CASCADE"))
    first_name: Mapped[str | None] = mapped_column(String(255))
    last_name: Mapped[str | None] = mapped_column(String(255))
    middle_name: Mapped[str | None] = mapped_column(String(255))
    phonetic_first_name: Mapped[str | None] = mapped_column(String(255))
    phonetic_last_name: Mapped[str | None] = mapped_column(String(255))
    phonetic_middle_name: Mapped[str | None] = mapped_column(String(255))
    prefix: Mapped[str | None] = mapped_column(String(64))
    suffix: Mapped[str | None] = mapped_column(String(64))
    nickname: Mapped[str | None] = mapped_column(String(255))
    file_as: Mapped[str | None] = mapped_column(String(255))
    notes: Mapped[str | None] = mapped_column(Text)
    gender: Mapped[str | None] = mapped_column(String(64))
    starred: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    #: ``order=last_name``: lowercased last name, then first name (never NULL, so both
    #: backends sort contacts without a last name the same way: first).
    sort_name: Mapped[str] = mapped_column(_binary(SORT_NAME_MAX))
    created_at: Mapped[int] = mapped_column(BigInteger)
    modified_at: Mapped[int] = mapped_column(BigInteger)


class ContactInfo(Base):
    """One entry of ``infos``: the value fields used depend on ``kind`` (spec 2.2.1)."""

    __tablename__ = "contact_infos"
    __table_args__ = (Index(None, "contact_id", "position"), Index(None, "address"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    label: Mapped[str | None] = mapped_column(String(32))
    custom_label: Mapped[str | None] = mapped_column(String(255))
    value: Mapped[str | None] = mapped_column(Text)
    #: Lowercased email address of ``email`` infos, matched against conversation addresses.
    address: Mapped[str | None] = mapped_column(String(320))
    name: Mapped[str | None] = mapped_column(String(255))
    street: Mapped[str | None] = mapped_column(String(255))
    extended_address: Mapped[str | None] = mapped_column(String(255))
    city: Mapped[str | None] = mapped_column(String(255))
    region: Mapped[str | None] = mapped_column(String(255))
    postal_code: Mapped[str | None] = mapped_column(String(64))
    po_box: Mapped[str | None] = mapped_column(String(64))
    country: Mapped[str | None] = mapped_column(String(255))


class ContactGroup(Base):
    """A contact group (label-like) or contact organization (company) of one book."""

    __tablename__ = "contact_groups"
    __table_args__ = (UniqueConstraint("contact_book_id", "kind", "name_key"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    contact_book_id: Mapped[str] = mapped_column(ForeignKey("contact_books.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(255))
    #: Lowercased name: "VIPs" and "vips" are one group.
    name_key: Mapped[str] = mapped_column(_binary(255))
    created_at: Mapped[int] = mapped_column(BigInteger)


class ContactMembership(Base):
    __tablename__ = "contact_memberships"
    __table_args__ = (Index(None, "contact_id", "position"), Index(None, "group_id", "contact_id"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    group_id: Mapped[str] = mapped_column(ForeignKey("contact_groups.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str | None] = mapped_column(String(255))
    location: Mapped[str | None] = mapped_column(String(255))
    department: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)


class ContactSearchTerm(Base):
    """Normalised words of a contact; the primary key is the search index (see services).

    ``sort_name`` is the contact's, copied so a search pages in ``order=last_name`` from this
    index alone: one term's matches are stored in page order, and a prefix range's matches are
    sorted without reading ``contacts`` (written with the terms, in the same transaction).
    """

    __tablename__ = "contact_search_terms"
    # WITHOUT ROWID on SQLite: the primary key is the table, so a range scan reads the terms
    # directly instead of an index and then the rows.
    __table_args__ = (Index(None, "contact_id"), {"sqlite_with_rowid": False})

    contact_book_id: Mapped[str] = mapped_column(
        ForeignKey("contact_books.id", ondelete="CASCADE"), primary_key=True
    )
    term: Mapped[str] = mapped_column(_binary(TERM_MAX), primary_key=True)
    sort_name: Mapped[str] = mapped_column(_binary(SORT_NAME_MAX), primary_key=True)
    contact_id: Mapped[str] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
