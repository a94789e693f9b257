"""Timestamp-cursor paging in SQL (spec 1.7): newest first, inclusive ``until``, ties together."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Row, Select
from sqlalchemy.orm import Session

from missive_server.pagination import CursorPage


def cursor_rows(
    session: Session,
    stmt: Select[Any],
    *,
    timestamp: ColumnElement[Any],
    tiebreak: ColumnElement[Any],
    page: CursorPage,
) -> Sequence[Row[Any]]:
    """Rows of ``stmt`` (whose first two columns are the tiebreak id and the timestamp), one page.

    When the page is full, rows sharing the last row's timestamp are appended, so a client that
    passes that timestamp as ``until`` never skips anything (and may see a page > ``limit``).
    """
    if page.until is not None:
        stmt = stmt.where(timestamp <= page.until)
    rows = session.execute(stmt.order_by(timestamp.desc(), tiebreak.desc()).limit(page.limit)).all()
    if len(rows) < page.limit:
        return rows
    last_id, last_ts = rows[-1][0], rows[-1][1]
    ties = session.execute(
        stmt.where(timestamp == last_ts, tiebreak < last_id).order_by(tiebreak.desc())
    ).all()
    return [*rows, *ties]
