"""Duration statistics and the time-zone arithmetic behind the daily buckets."""

from __future__ import annotations

import statistics
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from missive_server.services.analytics._figures import (
    OffsetSegment,
    day_from_number,
    duration_stats,
    local_days,
    offset_segments,
)

MONTREAL = ZoneInfo("America/Montreal")


def _utc(*parts: int) -> int:
    return int(datetime(*parts, tzinfo=UTC).timestamp())


def test_duration_stats_match_statistics_module() -> None:
    values = [5, 1, 300, 42, 42, 7, 3600, 12, 90, 61, 18_000, 2]
    cuts = statistics.quantiles(values, n=100, method="inclusive")

    assert duration_stats(values) == {
        "count": 12,
        "mean": round(statistics.fmean(values), 1),
        "median": float(statistics.median(values)),
        "p90": round(cuts[89], 1),
        "p95": round(cuts[94], 1),
    }


def test_duration_stats_of_one_and_none() -> None:
    assert duration_stats([30]) == {
        "count": 1,
        "mean": 30.0,
        "median": 30.0,
        "p90": 30.0,
        "p95": 30.0,
    }
    assert duration_stats([]) == {
        "count": 0,
        "mean": None,
        "median": None,
        "p90": None,
        "p95": None,
    }


def test_offset_segments_pin_each_dst_change_to_the_second() -> None:
    start, end = _utc(2026, 1, 1), _utc(2027, 1, 1)

    assert offset_segments(start, end, MONTREAL) == [
        OffsetSegment(start, -5 * 3600),
        OffsetSegment(_utc(2026, 3, 8, 7), -4 * 3600),  # 02:00 EST -> 03:00 EDT
        OffsetSegment(_utc(2026, 11, 1, 6), -5 * 3600),  # 02:00 EDT -> 01:00 EST
    ]
    assert offset_segments(start, end, ZoneInfo("UTC")) == [OffsetSegment(start, 0)]


def test_local_days_cover_the_period_with_dst_lengths() -> None:
    start = int(datetime(2026, 10, 31, 12, tzinfo=MONTREAL).timestamp())
    end = int(datetime(2026, 11, 2, 0, 1, tzinfo=MONTREAL).timestamp())

    days = local_days(start, end, MONTREAL)

    assert [d.day for d in days] == [date(2026, 10, 31), date(2026, 11, 1), date(2026, 11, 2)]
    assert [d.end - d.start for d in days] == [86_400, 90_000, 86_400]
    assert days[0].end == days[1].start


def test_day_numbers_map_back_to_dates() -> None:
    assert day_from_number(2) == date(1970, 1, 1)
    assert day_from_number(_utc(2026, 11, 1) // 86_400 + 2) == date(2026, 11, 1)
