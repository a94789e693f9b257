"""Timestamp-cursor paging in SQL (spec 1.7): newest first, inclusive ``until``, ties together."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVarTuple

from sqlalchemy import ColumnElement, Row, Select
from sqlalchemy.orm import QueryableAttribute, Session

from missive_server.pagination import CursorPage

_Ts = TypeVarTuple("_Ts")
Column = ColumnElement[Any] | QueryableAttribute[Any]


def cursor_rows(
    session: Session,
    stmt: Select[*_Ts],
    *,
    timestamp: Column,
    tiebreak: Column,
    page: CursorPage,
) -> Sequence[Row[*_Ts]]:
    """One page of ``stmt``, whose first two columns are the tiebreak id and the timestamp.

    When the page is full, rows sharing the last row's timestamp are appended, so a client that
    passes that timestamp as ``until`` never skips anything (and may see a page > ``limit``).
    """
    if page.until is not None:
        stmt = stmt.where(timestamp <= page.until)
    rows = session.execute(stmt.order_by(timestamp.desc(), tiebreak.desc()).limit(page.limit)).all()
    if len(rows) < page.limit:
        return rows
    last: tuple[Any, ...] = tuple(rows[-1])
    last_id, last_ts = last[0], last[1]
    ties = session.execute(
        stmt.where(timestamp == last_ts, tiebreak < last_id).order_by(tiebreak.desc())
    ).all()
    return [*rows, *ties]
