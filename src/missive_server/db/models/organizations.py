"""Organizations, users and their memberships (roles: owner, admin, user)."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from missive_server.db.base import Base

ROLES = ("owner", "admin", "user")
ADMIN_ROLES = frozenset({"owner", "admin"})


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[int] = mapped_column(BigInteger)


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    avatar_url: Mapped[str | None] = mapped_column(String(2048))
    created_at: Mapped[int] = mapped_column(BigInteger)
    #: Argon2id hash (PHC string) for the web sign-in; ``None``: no password set.
    password_hash: Mapped[str | None] = mapped_column(String(255))


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (Index(None, "user_id", "organization_id"),)

    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(16), default="user")
