"""The report's figures on hundreds of generated conversations, against an independent Python
computation (tests/services/analytics_data.py), with every filter and time-zone day buckets."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from missive_server.clock import FrozenClock
from missive_server.db.models import Organization, SharedLabel, Team, User
from missive_server.schemas.analytics import ReportIn
from missive_server.services.analytics._compute import compute_report
from tests.conftest import count_queries
from tests.factories import Factory
from tests.services.analytics_data import (
    Dataset,
    Expected,
    Filters,
    build_dataset,
    last_activity,
)

MONTREAL = ZoneInfo("America/Montreal")
# Two weeks around the end of daylight saving time in Montreal (2026-11-01, 02:00 -> 01:00).
START = int(datetime(2026, 10, 26, tzinfo=MONTREAL).timestamp())
END = int(datetime(2026, 11, 9, tzinfo=MONTREAL).timestamp())


@pytest.fixture
def world(factory: Factory) -> tuple[Organization, list[User], list[Team], list[SharedLabel]]:
    org = factory.organization()
    users = [factory.user(f"agent{i}@acme.test", organizations={org: "user"}) for i in range(4)]
    teams = [factory.team(org, "Support", active=users[:2]), factory.team(org, "Sales")]
    labels = [factory.shared_label(org, name) for name in ("Billing", "Bug", "VIP")]
    return org, users, teams, labels


@pytest.fixture
def data(session: Session, world: Any) -> Dataset:
    org, users, teams, labels = world
    return build_dataset(
        session, org=org, users=users, teams=teams, labels=labels, start=START, end=END
    )


def report(session: Session, org: Organization, zone: str = "America/Montreal", **filters: Any):  # type: ignore[no-untyped-def]
    request = ReportIn(organization=org.id, start=START, end=END, time_zone=zone, **filters)
    return compute_report(session, request.to_params())


def assert_matches(result: dict[str, Any], expected: Expected, data: Dataset) -> None:
    assert result["totals"] == expected.totals()
    assert result["first_response_time"] == expected.first_response_time()
    assert result["resolution_time"] == expected.resolution_time()
    assert result["by_account_type"] == expected.by_account_type()
    for team in result["by_team"]:
        assert {k: v for k, v in team.items() if k not in ("id", "name")} == expected.by_team(
            team["id"]
        ), team["name"]
    for label in result["by_shared_label"]:
        figures = {k: v for k, v in label.items() if k not in ("id", "name")}
        assert figures == expected.by_label(label["id"]), label["name"]
    for user in result["by_user"]:
        figures = {k: v for k, v in user.items() if k not in ("id", "name")}
        assert figures == expected.by_user(user["id"]), user["name"]
    by_date = expected.by_date()
    for day in result["by_day"]:
        figures = {k: v for k, v in day.items() if k not in ("date", "start", "end")}
        empty = dict.fromkeys(figures, 0)
        assert figures == by_date.get(day["date"], empty), day["date"]
    assert set(by_date) <= {d["date"] for d in result["by_day"]}


def test_the_whole_report_matches_an_independent_computation(
    session: Session, data: Dataset
) -> None:
    result = report(session, data.org)
    expected = Expected(data, START, END, "America/Montreal")

    assert_matches(result, expected, data)
    # The data is realistic enough to exercise every figure.
    totals = result["totals"]
    assert totals["conversations_created"] > 100
    assert totals["messages_received"] > 200
    assert totals["messages_sent"] > 200
    assert totals["comments"] > 50
    assert totals["posts"] > 20
    assert totals["conversations_unanswered"] > 0
    assert result["first_response_time"]["count"] > 50
    assert totals["conversations_resolved"] == result["resolution_time"]["count"] > 50
    # Closed silently (PATCH) in the period after being idle since before it: still counted.
    idle = [c for c, _ in expected.resolved if last_activity(c) < START]
    assert idle
    # Reopened ones (by a reply or PATCH; some closed again since) are in the data too.
    assert sum(c.reopened for c in data.conversations) > 20
    assert [d["date"] for d in result["by_day"]][:2] == ["2026-10-26", "2026-10-27"]
    assert len(result["by_day"]) == 14


@pytest.mark.parametrize(
    "make_filters",
    [
        pytest.param(lambda w, d: Filters(teams=[w[2][0].id]), id="teams"),
        pytest.param(lambda w, d: Filters(users=[w[1][1].id]), id="users"),
        pytest.param(lambda w, d: Filters(users=[w[1][0].id, w[1][3].id]), id="two-users"),
        pytest.param(lambda w, d: Filters(shared_labels=[w[3][0].id, w[3][2].id]), id="labels"),
        pytest.param(lambda w, d: Filters(accounts=[next(iter(d.accounts))]), id="accounts"),
        pytest.param(lambda w, d: Filters(account_types=["email", "sms"]), id="account-types"),
        pytest.param(
            lambda w, d: Filters(
                teams=[w[2][0].id, w[2][1].id], users=[w[1][2].id], account_types=["whatsapp"]
            ),
            id="combined",
        ),
    ],
)
def test_each_filter_applies_to_every_figure(
    session: Session, world: Any, data: Dataset, make_filters: Any
) -> None:
    filters: Filters = make_filters(world, data)
    result = report(session, data.org, **vars(filters))
    expected = Expected(data, START, END, "America/Montreal", filters)

    assert_matches(result, expected, data)
    assert (
        0
        < result["totals"]["messages_received"]
        < Expected(data, START, END, "UTC").totals()["messages_received"]
    )
    if filters.users:
        assert [u["id"] for u in result["by_user"]] == sorted(
            filters.users, key=lambda i: next(u.name for u in world[1] if u.id == i)
        )
    if filters.teams:
        assert {t["id"] for t in result["by_team"]} == set(filters.teams)


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kathmandu", "Australia/Lord_Howe"])
def test_days_follow_the_time_zone(session: Session, data: Dataset, zone: str) -> None:
    """Offsets of +05:45 (Kathmandu) and +11:00/+10:30 (Lord Howe) too."""
    result = report(session, data.org, zone)

    assert_matches(result, Expected(data, START, END, zone), data)


def test_the_query_count_does_not_grow_with_the_data(
    session: Session, engine: Engine, world: Any, data: Dataset
) -> None:
    org, users, teams, labels = world
    with count_queries(engine) as large:
        report(session, org)
    more = build_dataset(
        session, org=org, users=users, teams=teams, labels=labels, start=START, end=END, seed=9
    )
    with count_queries(engine) as larger:
        report(session, more.org)

    assert len(large) == len(larger) <= 19


def test_day_boundaries_in_montreal_around_midnight_and_dst(
    factory: Factory, session: Session, clock: FrozenClock
) -> None:
    """23:30 and 00:30 local fall on different dates; after the clocks go back, 23:30 EST is
    still Nov 1 (with the EDT offset it would be Nov 2 00:30); both 01:30s of Nov 1 are Nov 1."""
    org = factory.organization()
    local = [
        datetime(2026, 10, 30, 23, 30),
        datetime(2026, 10, 31, 0, 30),
        datetime(2026, 11, 1, 1, 30, fold=0),  # EDT
        datetime(2026, 11, 1, 1, 30, fold=1),  # EST, an hour later
        datetime(2026, 11, 1, 23, 30),
        datetime(2026, 11, 2, 0, 30),
    ]
    stamps = [int(d.replace(tzinfo=MONTREAL).timestamp()) for d in local]
    assert stamps[3] - stamps[2] == 3600
    for at in stamps:
        factory.conversation(org, at=at, messages=[_incoming(at)])
    clock.set(END)

    days = {d["date"]: d for d in report(session, org)["by_day"]}

    received = {date: d["messages_received"] for date, d in days.items() if d["messages_received"]}
    assert received == {"2026-10-30": 1, "2026-10-31": 1, "2026-11-01": 3, "2026-11-02": 1}
    assert days["2026-11-01"]["end"] - days["2026-11-01"]["start"] == 25 * 3600
    assert days["2026-10-31"]["end"] - days["2026-10-31"]["start"] == 24 * 3600
    assert days["2026-11-01"]["start"] == int(datetime(2026, 11, 1, tzinfo=MONTREAL).timestamp())


def test_a_spring_forward_day_has_23_hours(factory: Factory, session: Session) -> None:
    org = factory.organization()
    start = int(datetime(2026, 3, 7, tzinfo=MONTREAL).timestamp())
    end = int(datetime(2026, 3, 10, tzinfo=MONTREAL).timestamp())
    at = int(datetime(2026, 3, 8, 23, 59, tzinfo=MONTREAL).timestamp())
    factory.conversation(org, at=at, messages=[_incoming(at)])
    request = ReportIn(organization=org.id, start=start, end=end, time_zone="America/Montreal")

    days = compute_report(session, request.to_params())["by_day"]

    assert [(d["date"], d["end"] - d["start"], d["messages_received"]) for d in days] == [
        ("2026-03-07", 24 * 3600, 0),
        ("2026-03-08", 23 * 3600, 1),
        ("2026-03-09", 24 * 3600, 0),
    ]


def test_the_period_is_half_open(factory: Factory, session: Session) -> None:
    org = factory.organization()
    for at in (START - 1, START, END - 1, END):
        factory.conversation(org, at=at, messages=[_incoming(at)])
        closed = factory.conversation(org, at=START - 10 * 86_400)
        closed.closed_at = at
    session.commit()

    result = report(session, org)

    assert result["totals"]["messages_received"] == 2
    assert result["totals"]["conversations_created"] == 2
    assert result["totals"]["conversations_resolved"] == 2
    assert result["resolution_time"]["median"] == (START - 1 + END) / 2 - (START - 10 * 86_400)


def _incoming(at: int):  # type: ignore[no-untyped-def]
    from tests.factories import email

    return email(at)


def test_leftover_temporary_tables_of_a_failed_run_are_replaced(
    factory: Factory, session: Session
) -> None:
    """SQLite creates temporary tables outside its transaction, so a computation that failed
    half-way leaves them on the connection; the next one must start from empty tables."""
    from sqlalchemy.schema import CreateTable

    from missive_server.services.analytics._materialized import EVENTS

    org = factory.organization()
    factory.conversation(org, at=START + 5, messages=[_incoming(START + 5)])
    session.execute(CreateTable(EVENTS))
    session.execute(EVENTS.insert().values(cid="stale", at=START + 1, kind="received"))

    totals = report(session, org)["totals"]

    assert (totals["messages_received"], totals["conversations_active"]) == (1, 1)
