"""Outbox kind ``analytics_report``: compute a report requested by ``POST /v1/analytics/reports``.

The worker hands each row its own session, outside any request; the figures and
``completed_at`` commit together with the row's outcome, so a report is either pending or
complete, never half-written. ``completed_at`` is read from the clock after the computation:
the 60 s a client has to fetch the report (spec 2.1.2) start when it can really be fetched.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from missive_server.clock import Clock
from missive_server.db.models import AnalyticsReport, OutboxItem
from missive_server.delivery.worker import Delivered, DeliveryError
from missive_server.services.analytics.analytics import complete_report


class AnalyticsReportHandler:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def deliver(self, session: Session, item: OutboxItem, *, now: int) -> Delivered:
        report_id = item.payload.get("report_id")
        report = session.get(AnalyticsReport, report_id) if report_id else None
        if report is None:
            # Purged or its organization deleted before the worker got to it.
            raise DeliveryError("the analytics report no longer exists", permanent=True)
        if report.status != "complete":
            complete_report(session, report, completed_at=self.clock.now())
        return Delivered()
