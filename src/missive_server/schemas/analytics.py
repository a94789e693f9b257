"""Analytics reports (spec 2.1): the request body and the report as returned.

Missive documents the request only; the report's fields are ours (docs/compatibility.md,
"Analytics reports"), kept inside the ``reports`` envelope the spec recommends.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any
from zoneinfo import available_timezones

from pydantic import AfterValidator, Strict, ValidationInfo, field_validator, model_validator

from missive_server.db.models import AnalyticsReport
from missive_server.schemas.base import RequestModel, WireModel
from missive_server.schemas.fields import Timestamp, invalid

#: Exactly the values spec 2.1.1 allows for ``account_types``.
REPORT_ACCOUNT_TYPES = ("custom", "email", "instagram", "live_chat", "messenger", "sms", "whatsapp")
#: Longest period one report covers: a year, leap day included.
MAX_PERIOD_SECONDS = 366 * 86_400
DEFAULT_TIME_ZONE = "UTC"
FILTERS = ("teams", "users", "shared_labels", "accounts", "account_types")


@lru_cache(maxsize=1)
def _time_zones() -> frozenset[str]:
    """Every IANA key the system or the ``tzdata`` package knows (scanned once)."""
    return frozenset(available_timezones())


def _shown(value: str) -> str:
    """The bad value as quoted in a message, cut short: messages stay one line."""
    return value if len(value) <= 64 else value[:61] + "..."


def _time_zone(value: str) -> str:
    if value not in _time_zones():
        example = "'America/Montreal'"
        raise invalid(f"must be an IANA time zone name such as {example} (got '{_shown(value)}')")
    return value


def _account_type(value: str) -> str:
    if value not in REPORT_ACCOUNT_TYPES:
        allowed = ", ".join(f"'{t}'" for t in REPORT_ACCOUNT_TYPES)
        raise invalid(f"must be one of {allowed} (got '{_shown(value)}')")
    return value


def _distinct(values: list[str] | None) -> list[str]:
    """Repeated ids mean nothing more; order is kept for the echo."""
    return list(dict.fromkeys(values or ()))


AccountType = Annotated[str, Strict(), AfterValidator(_account_type)]
Id = Annotated[str, Strict()]


class ReportIn(RequestModel):
    organization: Id
    start: Timestamp
    end: Timestamp
    time_zone: Annotated[str, Strict(), AfterValidator(_time_zone)] = DEFAULT_TIME_ZONE
    teams: list[Id] | None = None
    users: list[Id] | None = None
    shared_labels: list[Id] | None = None
    accounts: list[Id] | None = None
    account_types: list[AccountType] | None = None

    @field_validator("end")
    @classmethod
    def _after_start(cls, end: int, info: ValidationInfo) -> int:
        start = info.data.get("start")
        if start is None:  # 'start' itself is invalid and reported first
            return end
        if end <= start:
            raise invalid("must be greater than 'start'")
        if end - start > MAX_PERIOD_SECONDS:
            raise invalid("must be at most 366 days after 'start'")
        return end

    @field_validator("teams", "users", "shared_labels", "accounts", "account_types")
    @classmethod
    def _deduplicated(cls, values: list[str] | None) -> list[str]:
        return _distinct(values)

    def to_params(self) -> dict[str, Any]:
        """What the report row keeps and echoes: the period, the zone and every filter."""
        params: dict[str, Any] = {
            "organization": self.organization,
            "start": self.start,
            "end": self.end,
            "time_zone": self.time_zone,
        }
        params["filters"] = {name: getattr(self, name) or [] for name in FILTERS}
        return params


class ReportsCreateBody(RequestModel):
    reports: ReportIn

    @model_validator(mode="before")
    @classmethod
    def _object(cls, value: Any) -> Any:
        if isinstance(value, dict) and isinstance(value.get("reports"), list):
            # One report per request (spec 2.1.1); a list of one is the tolerant reading.
            items = value["reports"]
            return {"reports": items[0]} if len(items) == 1 else value
        return value


class ReportRef(WireModel):
    id: str


class ReportCreatedEnvelope(WireModel):
    reports: ReportRef


# --- The report (GET /v1/analytics/reports/:id) ----------------------------------------------


class DurationStats(WireModel):
    """Seconds; ``null`` figures when ``count`` is 0."""

    count: int
    mean: float | None
    median: float | None
    p90: float | None
    p95: float | None


class FiltersOut(WireModel):
    teams: list[str]
    users: list[str]
    shared_labels: list[str]
    accounts: list[str]
    account_types: list[str]


class VolumesOut(WireModel):
    conversations_active: int
    conversations_created: int
    messages_received: int
    messages_sent: int
    comments: int
    posts: int


class TotalsOut(VolumesOut):
    conversations_answered: int
    conversations_unanswered: int
    conversations_resolved: int


class UserFiguresOut(WireModel):
    id: str
    name: str
    messages_sent: int
    comments: int
    first_responses: int
    first_response_time: DurationStats


class GroupFiguresOut(VolumesOut):
    id: str
    name: str
    first_response_time: DurationStats
    resolution_time: DurationStats


class AccountTypeFiguresOut(WireModel):
    type: str
    messages_received: int
    messages_sent: int


class DayFiguresOut(VolumesOut):
    date: str
    start: int
    end: int
    conversations_resolved: int


class ReportOut(WireModel):
    id: str
    organization: str
    start: int
    end: int
    time_zone: str
    filters: FiltersOut
    created_at: int
    completed_at: int
    totals: TotalsOut
    first_response_time: DurationStats
    resolution_time: DurationStats
    by_user: list[UserFiguresOut]
    by_team: list[GroupFiguresOut]
    by_shared_label: list[GroupFiguresOut]
    by_account_type: list[AccountTypeFiguresOut]
    by_day: list[DayFiguresOut]


class ReportEnvelope(WireModel):
    reports: ReportOut


def render_report(report: AnalyticsReport) -> dict[str, Any]:
    """The stored figures after the request's echo; ``result`` is already wire-shaped."""
    assert report.result is not None
    assert report.completed_at is not None
    return {
        "id": report.id,
        **report.params,
        "created_at": report.created_at,
        "completed_at": report.completed_at,
        **report.result,
    }
