"""Idempotency keys (``Idempotency-Key``, an extension; see docs/compatibility.md).

One row per (user, key). While its first request runs the row is a reservation: ``status`` is
NULL and ``owner`` holds it until ``locked_until`` (a lease, so a process killed mid-request
does not block the key for its whole lifetime). The request's own transaction then writes the
answer (``status``, ``headers``, ``body``) into the row, so the change and its stored answer
commit together or not at all.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from missive_server.db.base import Base


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (Index(None, "expires_at"),)

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    method: Mapped[str] = mapped_column(String(10))
    #: Path and query string of the first request.
    path: Mapped[str] = mapped_column(Text)
    #: SHA-256 (hex) of the first request's body bytes.
    body_sha256: Mapped[str] = mapped_column(String(64))
    #: The reservation holder (a random id per request); a takeover after the lease changes it.
    owner: Mapped[str] = mapped_column(String(36))
    locked_until: Mapped[int | None] = mapped_column(BigInteger)
    #: NULL while the first request runs; then the stored answer.
    status: Mapped[int | None] = mapped_column(Integer)
    headers: Mapped[list[Any] | None] = mapped_column()
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
