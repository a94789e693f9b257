"""Computing an analytics report's figures (field by field in docs/compatibility.md).

A fixed number of set-based statements whatever the data size (``analytics_materialized``,
``analytics_queries``); Python only pivots their rows, names the groups and computes
percentiles from the per-conversation response times, which no portable SQL aggregate gives.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from missive_server.db.models import Membership, SharedLabel, Team, User
from missive_server.schemas.analytics import REPORT_ACCOUNT_TYPES
from missive_server.services.analytics import _queries as q
from missive_server.services.analytics._figures import (
    OffsetSegment,
    day_from_number,
    duration_stats,
    local_days,
    offset_segments,
)
from missive_server.services.analytics._materialized import materialized

VOLUMES = {
    "conversations_active": "active",
    "conversations_created": "created",
    "messages_received": "received",
    "messages_sent": "sent",
    "comments": "comment",
    "posts": "post",
}
EMPTY = dict.fromkeys(("active", *q.KINDS), 0)


@dataclass(slots=True)
class Durations:
    """Seconds per conversation, overall and per team and label, from rows that come one per
    (conversation, label): a conversation counts once overall and for its team, once per label."""

    overall: list[int] = field(default_factory=list)
    by_team: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    by_label: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    seen: set[str] = field(default_factory=set)

    def add(self, row: Row[Any], seconds: int) -> bool:
        """Count one row; ``True`` for the conversation's first row."""
        if row.label_id is not None:
            self.by_label[row.label_id].append(seconds)
        if row.cid in self.seen:
            return False
        self.seen.add(row.cid)
        self.overall.append(seconds)
        if row.team_id is not None:
            self.by_team[row.team_id].append(seconds)
        return True


@dataclass(slots=True)
class Responses(Durations):
    """First-response times, also per responder."""

    unanswered: int = 0
    by_user: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))


@dataclass(slots=True)
class Resolutions(Durations):
    """Resolution times, and closes per local day number."""

    by_day: dict[int, int] = field(default_factory=lambda: defaultdict(int))


def compute_report(session: Session, params: dict[str, Any]) -> dict[str, Any]:
    scope = q.Scope.from_params(params)
    zone = ZoneInfo(params["time_zone"])
    segments = offset_segments(scope.start, scope.end, zone)
    with materialized(session, scope) as tables:
        events = tables.events
        totals = q.tally(session, events)[None]
        responses = _responses(session.execute(q.first_responses(scope, tables.scoped)).all())
        closes = q.resolutions(scope, tables.scoped, segments)
        resolved = _resolutions(session.execute(closes).all())
        times = _Times(responses, resolved)
        return {
            "totals": _volumes(totals)
            | {
                "conversations_answered": len(responses.overall),
                "conversations_unanswered": responses.unanswered,
                "conversations_resolved": len(resolved.overall),
            },
            "first_response_time": duration_stats(responses.overall),
            "resolution_time": duration_stats(resolved.overall),
            "by_user": _by_user(session, scope, events, responses),
            "by_team": _by_team(session, scope, events, times),
            "by_shared_label": _by_label(session, scope, events, times),
            "by_account_type": _by_account_type(session, events),
            "by_day": _by_day(session, scope, events, zone, segments, resolved.by_day),
        }


@dataclass(frozen=True, slots=True)
class _Times:
    responses: Responses
    resolutions: Resolutions


def _volumes(counts: dict[str, int]) -> dict[str, int]:
    return {name: counts[kind] for name, kind in VOLUMES.items()}


def _responses(rows: Sequence[Row[Any]]) -> Responses:
    """Each answered conversation's wait, also for its responder."""
    responses = Responses(unanswered=len({row.cid for row in rows if row.reply_at is None}))
    for row in rows:
        if row.reply_at is None:
            continue
        waited = int(row.reply_at - row.at)
        if responses.add(row, waited) and row.responder is not None:
            responses.by_user[row.responder].append(waited)
    return responses


def _resolutions(rows: Sequence[Row[Any]]) -> Resolutions:
    """Each resolved conversation's time from creation to close, and its close's day."""
    resolutions = Resolutions()
    for row in rows:
        if resolutions.add(row, int(row.took)):
            resolutions.by_day[int(row.day)] += 1
    return resolutions


def _by_user(
    session: Session, scope: q.Scope, events: Any, responses: Responses
) -> list[dict[str, Any]]:
    """Every member of the organization (or of the ``users`` filter), zeros included."""
    counts = q.tally(session, events, events.c.user_id)
    stmt = (
        select(User.id, User.name)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.organization_id == scope.organization_id)
        .order_by(User.name, User.id)
    )
    if scope.users:
        stmt = stmt.where(User.id.in_(scope.users))
    figures = []
    for user_id, name in session.execute(stmt):
        tally, times = counts.get(user_id, EMPTY), responses.by_user.get(user_id, [])
        figures.append(
            {
                "id": user_id,
                "name": name,
                "messages_sent": tally["sent"],
                "comments": tally["comment"],
                "first_responses": len(times),
                "first_response_time": duration_stats(times),
            }
        )
    return figures


def _by_team(session: Session, scope: q.Scope, events: Any, times: _Times) -> list[dict[str, Any]]:
    """Every team of the organization (or of the ``teams`` filter), by conversation team."""
    stmt = select(Team.id, Team.name).where(Team.organization_id == scope.organization_id)
    if scope.teams:
        stmt = stmt.where(Team.id.in_(scope.teams))
    counts = q.tally(session, events, events.c.team_id)
    groups = session.execute(stmt.order_by(Team.name, Team.id)).all()
    by_team = (times.responses.by_team, times.resolutions.by_team)
    return [_group(group_id, name, counts, *by_team) for group_id, name in groups]


def _by_label(session: Session, scope: q.Scope, events: Any, times: _Times) -> list[dict[str, Any]]:
    """The labels of the ``shared_labels`` filter, or else every organization-visible label
    (``delegates`` labels only when named in the filter, as they are hidden from most users)."""
    stmt = select(SharedLabel.id, SharedLabel.name).where(
        SharedLabel.organization_id == scope.organization_id
    )
    if scope.shared_labels:
        stmt = stmt.where(SharedLabel.id.in_(scope.shared_labels))
    else:
        stmt = stmt.where(SharedLabel.visibility == "organization")
    counts = q.tally_by_label(session, events)
    groups = session.execute(stmt.order_by(SharedLabel.name, SharedLabel.id)).all()
    by_label = (times.responses.by_label, times.resolutions.by_label)
    return [_group(group_id, name, counts, *by_label) for group_id, name in groups]


def _group(
    group_id: str,
    name: str,
    counts: dict[Any, dict[str, int]],
    responses: dict[str, list[int]],
    resolutions: dict[str, list[int]],
) -> dict[str, Any]:
    return {
        "id": group_id,
        "name": name,
        **_volumes(counts.get(group_id, EMPTY)),
        "first_response_time": duration_stats(responses.get(group_id, [])),
        "resolution_time": duration_stats(resolutions.get(group_id, [])),
    }


def _by_account_type(session: Session, events: Any) -> list[dict[str, Any]]:
    """The seven account types of spec 2.1.1, zeros included; messages without an account
    count in the totals only."""
    counts = q.tally(session, events, events.c.account_type)
    return [
        {
            "type": account_type,
            "messages_received": counts.get(account_type, EMPTY)["received"],
            "messages_sent": counts.get(account_type, EMPTY)["sent"],
        }
        for account_type in REPORT_ACCOUNT_TYPES
    ]


def _by_day(
    session: Session,
    scope: q.Scope,
    events: Any,
    zone: ZoneInfo,
    segments: list[OffsetSegment],
    resolved: dict[int, int],
) -> list[dict[str, Any]]:
    """Every local date of the period in the report's time zone, zeros included."""
    counts = q.tally(session, events, q.local_day_number(events.c.at, segments))
    by_date = {day_from_number(int(number)): tally for number, tally in counts.items()}
    closes = {day_from_number(number): count for number, count in resolved.items()}
    return [
        {
            "date": day.day.isoformat(),
            "start": day.start,
            "end": day.end,
            **_volumes(by_date.get(day.day, EMPTY)),
            "conversations_resolved": closes.get(day.day, 0),
        }
        for day in local_days(scope.start, scope.end, zone)
    ]
