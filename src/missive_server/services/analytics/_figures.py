"""Pure arithmetic of analytics reports: duration statistics and local days of a time zone.

Days are bucketed in SQL by ``(ts + utc_offset) // 86400`` with the offset of the stretch of
the period the timestamp falls in (``offset_segments``), so buckets follow the zone's wall
clock across DST transitions on SQLite and PostgreSQL alike, in one GROUP BY.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

DAY = 86_400
#: Added before the integer division so it never sees a negative number (SQL truncates toward
#: zero where Python floors); ``day_from_number`` takes it back off.
DAY_NUMBER_SHIFT = 2
EPOCH = date(1970, 1, 1)


@dataclass(frozen=True, slots=True)
class LocalDay:
    """A calendar day of the zone: its first instant and the next day's (UTC seconds)."""

    day: date
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class OffsetSegment:
    """From ``since`` (UTC seconds) until the next segment, local time is UTC + ``offset``."""

    since: int
    offset: int


def duration_stats(durations: list[int]) -> dict[str, Any]:
    """Count, mean, median, p90 and p95 in seconds (one decimal). Percentiles interpolate
    linearly between the closest ranks, as PostgreSQL's ``percentile_cont`` does."""
    if not durations:
        return {"count": 0, "mean": None, "median": None, "p90": None, "p95": None}
    ordered = sorted(durations)
    return {
        "count": len(ordered),
        "mean": round(sum(ordered) / len(ordered), 1),
        "median": _percentile(ordered, 50),
        "p90": _percentile(ordered, 90),
        "p95": _percentile(ordered, 95),
    }


def _percentile(ordered: list[int], percent: int) -> float:
    # Exact rational interpolation (integers until the one division), so p95 of 20 values
    # never rounds differently from 72.45 -> 72.4 by float noise.
    rank, remainder = divmod((len(ordered) - 1) * percent, 100)
    if remainder == 0:
        return float(ordered[rank])
    low, high = ordered[rank], ordered[rank + 1]
    return round((low * (100 - remainder) + high * remainder) / 100, 1)


def local_days(start: int, end: int, zone: ZoneInfo) -> list[LocalDay]:
    """Every local date that has an instant in ``[start, end)``, in order."""
    first = datetime.fromtimestamp(start, zone).date()
    last = datetime.fromtimestamp(end - 1, zone).date()
    days: list[LocalDay] = []
    current = first
    while current <= last:
        following = current + timedelta(days=1)
        days.append(LocalDay(current, _midnight(current, zone), _midnight(following, zone)))
        current = following
    return days


def _midnight(day: date, zone: ZoneInfo) -> int:
    """The day's first instant. Where a DST gap swallows midnight (e.g. America/Havana),
    ``fold=0`` reads 00:00 with the old offset, which is exactly the transition instant."""
    return int(datetime(day.year, day.month, day.day, tzinfo=zone).timestamp())


def offset_segments(start: int, end: int, zone: ZoneInfo) -> list[OffsetSegment]:
    """The zone's UTC offsets over ``[start, end)``. Offsets are sampled at every local
    midnight and each change is pinned to the second by bisection (zones change at most
    once a day)."""
    samples = sorted({start, *(d.start for d in local_days(start, end, zone)), end - 1})
    samples = [s for s in samples if start <= s < end]
    segments = [OffsetSegment(start, _offset(start, zone))]
    for earlier, later in pairwise(samples):
        if _offset(later, zone) != _offset(earlier, zone):
            since = _first_change(earlier, later, zone)
            segments.append(OffsetSegment(since, _offset(since, zone)))
    return segments


def _offset(ts: int, zone: ZoneInfo) -> int:
    offset = datetime.fromtimestamp(ts, zone).utcoffset()
    assert offset is not None
    return int(offset.total_seconds())


def _first_change(low: int, high: int, zone: ZoneInfo) -> int:
    """The first second after ``low`` (up to ``high``) whose offset differs from ``low``'s."""
    base = _offset(low, zone)
    while high - low > 1:
        middle = (low + high) // 2
        if _offset(middle, zone) == base:
            low = middle
        else:
            high = middle
    return high


def day_from_number(number: int) -> date:
    """The local date of a SQL day number (``(ts + offset) // 86400 + DAY_NUMBER_SHIFT``)."""
    return EPOCH + timedelta(days=number - DAY_NUMBER_SHIFT)
