"""Analytics reports (spec 2.1): create (validate, store, enqueue), fetch, complete.

A report is computed by the worker (outbox kind ``analytics_report``,
``delivery/analytics.py``), never in the request. It can be fetched for ``REPORT_TTL_SECONDS``
after completion; before and after that, and for ids the caller may not see, Missive answers
404 with an empty body (spec 2.1.2).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, SQLColumnExpression, delete, or_, select
from sqlalchemy.orm import Session

from missive_server.auth import Principal
from missive_server.db.models import AnalyticsReport, Membership, SharedLabel, Team
from missive_server.db.models.accounts import Account
from missive_server.errors import NotFound, not_found
from missive_server.ids import new_id
from missive_server.schemas.analytics import ReportIn
from missive_server.services import outbox
from missive_server.services.analytics._compute import compute_report
from missive_server.services.directory.organizations import require_member
from missive_server.services.directory.shared_labels import accessible
from missive_server.services.outbox import RetryPolicy
from missive_server.services.writing.aliases import usable_by

#: A completed report expires this long after ``completed_at`` (spec 2.1.2).
REPORT_TTL_SECONDS = 60
#: A report still pending after this long will not complete (its outbox row failed).
ABANDONED_SECONDS = 86_400
OUTBOX_KIND = "analytics_report"


class ReportNotFound(NotFound):
    """Missive's 404 for an incomplete, expired or unknown report: no body at all."""

    empty_body = True

    def __init__(self) -> None:
        super().__init__("Report not found")


def create_report(
    session: Session, *, actor: Principal, request: ReportIn, now: int, policy: RetryPolicy
) -> AnalyticsReport:
    organization_id = require_member(actor, request.organization)
    _check_filters(session, actor, organization_id, request)
    _purge(session, now)
    report = AnalyticsReport(
        id=new_id(),
        organization_id=organization_id,
        user_id=actor.user_id,
        status="pending",
        params=request.to_params(),
        result=None,
        created_at=now,
        completed_at=None,
    )
    session.add(report)
    session.flush()
    outbox.enqueue(
        session, kind=OUTBOX_KIND, now=now, policy=policy, payload={"report_id": report.id}
    )
    return report


def get_report(session: Session, *, actor: Principal, report_id: str, now: int) -> AnalyticsReport:
    report = session.get(AnalyticsReport, report_id)
    if (
        report is None
        or not actor.is_member(report.organization_id)
        or report.completed_at is None
        or now > report.completed_at + REPORT_TTL_SECONDS
    ):
        raise ReportNotFound()
    return report


def complete_report(session: Session, report: AnalyticsReport, *, completed_at: int) -> None:
    report.result = compute_report(session, report.params)
    report.status = "complete"
    report.completed_at = completed_at


def _purge(session: Session, now: int) -> None:
    """Expired reports are never shown again; dropping them keeps the table small."""
    session.execute(
        delete(AnalyticsReport).where(
            or_(
                AnalyticsReport.completed_at < now - REPORT_TTL_SECONDS,
                (AnalyticsReport.status == "pending")
                & (AnalyticsReport.created_at < now - ABANDONED_SECONDS),
            )
        )
    )


def _check_filters(
    session: Session, actor: Principal, organization_id: str, request: ReportIn
) -> None:
    """Every filter id must be of the report's organization and visible to the caller; any
    other id is unknown (404, the message every endpoint uses)."""
    in_org = Team.organization_id == organization_id
    _require_all(session, select(Team.id).where(in_org), Team.id, request.teams, "Team")
    members = select(Membership.user_id).where(Membership.organization_id == organization_id)
    _require_all(session, members, Membership.user_id, request.users, "User")
    labels = select(SharedLabel.id).where(
        SharedLabel.organization_id == organization_id, accessible(actor)
    )
    _require_all(session, labels, SharedLabel.id, request.shared_labels, "Shared label")
    accounts = select(Account.id).where(
        usable_by(actor, organization_members=True),
        or_(Account.organization_id == organization_id, Account.organization_id.is_(None)),
    )
    _require_all(session, accounts, Account.id, request.accounts, "Account")


def _require_all(
    session: Session,
    visible: Select[str],
    column: SQLColumnExpression[str],
    wanted: Sequence[str] | None,
    resource: str,
) -> None:
    if not wanted:
        return
    found = set(session.scalars(visible.where(column.in_(wanted))))
    for item_id in wanted:
        if item_id not in found:
            raise not_found(resource, item_id)
