"""Every foreign-key column leads some index: deleting or finding a parent never scans a child.

A ``DELETE`` of a user, team or conversation makes the database find the rows that reference it
(ON DELETE CASCADE / SET NULL); neither SQLite nor PostgreSQL indexes the referencing side by
itself. A unique constraint counts: both backends build an index for it.
"""

from __future__ import annotations

from sqlalchemy import Table, UniqueConstraint, inspect
from sqlalchemy.engine import Engine

import missive_server.db.models  # noqa: F401  (registers every table on the metadata)
from missive_server.db.base import Base


def _leading_columns(table: Table) -> set[str]:
    leading = {column.name for column in list(table.primary_key.columns)[:1]}
    leading |= {next(iter(index.columns)).name for index in table.indexes if index.columns}
    leading |= {
        next(iter(constraint.columns)).name
        for constraint in table.constraints
        if isinstance(constraint, UniqueConstraint) and constraint.columns
    }
    return leading


def _foreign_key_columns() -> list[tuple[Table, str]]:
    return [
        (table, column.name)
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if column.foreign_keys
    ]


def test_every_foreign_key_column_leads_an_index_or_the_primary_key() -> None:
    unindexed = [
        f"{table.name}.{name}"
        for table, name in _foreign_key_columns()
        if name not in _leading_columns(table)
    ]
    assert unindexed == []


def test_the_check_sees_the_foreign_keys_it_is_about() -> None:
    # Guards the test above against passing vacuously (no tables registered, no FKs found).
    foreign_keys = [f"{table.name}.{name}" for table, name in _foreign_key_columns()]
    assert "comments.author_id" in foreign_keys
    assert "messages.account_id" in foreign_keys
    assert len(foreign_keys) > 40


def test_the_migrated_database_has_the_foreign_key_indexes(engine: Engine) -> None:
    inspector = inspect(engine)
    leading = {
        (table, index["column_names"][0])
        for table in inspector.get_table_names()
        for index in inspector.get_indexes(table)
    }
    assert ("comments", "author_id") in leading
    assert ("hooks", "user_id") in leading
    assert ("message_references", "conversation_id") in leading
