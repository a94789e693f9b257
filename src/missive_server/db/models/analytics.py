"""Analytics reports (spec 2.1): a request, computed later by the worker, fetched by polling.

The row holds the request (``params``) from creation and the figures (``result``) once the
``analytics_report`` outbox row has been delivered; it can be fetched for 60 s after
``completed_at`` and is purged after that (``services.analytics``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from missive_server.db.base import Base

#: ``pending`` until the worker stores ``result``, then ``complete``.
REPORT_STATUSES = ("pending", "complete")


class AnalyticsReport(Base):
    __tablename__ = "analytics_reports"
    __table_args__ = (
        Index(None, "completed_at"),
        Index(None, "organization_id"),
        Index(None, "user_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    #: Who asked; ``None`` once that user is deleted (the report stays the organization's).
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    #: The validated request: period, time zone and filters (echoed in the report).
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    result: Mapped[dict[str, Any] | None]
    created_at: Mapped[int] = mapped_column(BigInteger)
    completed_at: Mapped[int | None] = mapped_column(BigInteger)
