"""Missive's two pagination styles (spec 1.7), independent of storage.

Offset lists take ``limit``/``offset``. Timestamp-cursor lists go newest first with an
inclusive ``until``; items that share the boundary timestamp stay on one page, so a page
may hold more than ``limit`` items.
"""

from __future__ import annotations

from dataclasses import dataclass

from missive_server.errors import BadRequest

MIN_CURSOR_LIMIT = 2
#: The largest value a BIGINT column (and SQLite's INTEGER) holds: past it the driver overflows.
MAX_INTEGER = 2**63 - 1


@dataclass(frozen=True, slots=True)
class OffsetPage:
    limit: int
    offset: int


@dataclass(frozen=True, slots=True)
class CursorPage:
    limit: int
    until: int | None


def offset_page(
    limit: int | None, offset: int | None, *, default: int = 50, maximum: int = 200
) -> OffsetPage:
    if limit is not None and limit < 1:
        raise BadRequest("min 'limit' value is 1")
    if offset is not None and offset < 0:
        raise BadRequest("'offset' must be 0 or more")
    if offset is not None and offset > MAX_INTEGER:
        raise BadRequest("'offset' is out of range")
    return OffsetPage(limit=min(limit or default, maximum), offset=offset or 0)


def cursor_page(limit: int | None, until: int | None, *, default: int, maximum: int) -> CursorPage:
    if limit is not None and limit < MIN_CURSOR_LIMIT:
        # Missive's exact text for limit=1 (spec 1.5); nothing below 2 makes sense for a cursor.
        raise BadRequest(f"min 'limit' value is {MIN_CURSOR_LIMIT}")
    if until is not None and abs(until) > MAX_INTEGER:
        raise BadRequest("'until' is out of range")
    return CursorPage(limit=min(limit or default, maximum), until=until)
