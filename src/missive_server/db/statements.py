"""Statements over a list of ids, built once in two shapes.

An expanding ``IN`` parameter is re-rendered into the SQL on every execution (SQLAlchemy's
"post-compile" step): on a one-conversation read its four statements spent 9 % of the request
there (bench/README.md, issue 13). Most hot reads ask for exactly one id, so each statement is
also built with ``= :id``, which is compiled once and cached like any other.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, CursorResult, Executable, bindparam
from sqlalchemy.orm import QueryableAttribute


@dataclass(frozen=True, slots=True)
class ByIds:
    one: Executable
    many: Executable

    def run(
        self, connection: Connection, ids: Collection[str], params: Mapping[str, Any] | None = None
    ) -> CursorResult[*tuple[Any, ...]]:
        """Rows for ``ids`` (none matches nothing), with the other parameters it binds."""
        if len(ids) == 1:
            (only,) = ids
            return connection.execute(self.one, {**(params or {}), "id": only})
        return connection.execute(self.many, {**(params or {}), "ids": list(ids)})


def by_ids(
    column: ColumnElement[Any] | QueryableAttribute[Any],
    build: Callable[[ColumnElement[bool]], Executable],
) -> ByIds:
    """``build(criterion)`` twice: ``column = :id`` and ``column IN :ids``."""
    return ByIds(
        one=build(column == bindparam("id")),
        many=build(column.in_(bindparam("ids", expanding=True))),
    )
