"""The migrations build exactly the schema the models declare, on every backend."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.operations import Operations
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, String, event, inspect, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.clock import FrozenClock
from missive_server.db import migrate
from missive_server.db.base import Base
from missive_server.db.models import Comment, ContactSearchTerm, ConversationSearchTerm
from missive_server.services.conversations.attachments import NewAttachment
from missive_server.services.conversations.comments import create_comment
from tests.api import contacts_support
from tests.factories import EntryFactory, Factory


def test_migrations_match_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_migrations_form_one_line_of_history(engine: Engine) -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config(engine))
    assert len(script.get_heads()) == 1


def test_a_table_rebuilt_by_a_migration_keeps_the_rows_that_reference_it(
    engine: Engine, session: Session, factory: Factory, clock: FrozenClock
) -> None:
    # SQLite alters tables by copy-and-drop; with foreign keys enforced, dropping `attachments`
    # would null every comment's ON DELETE SET NULL link to it.
    if engine.dialect.name != "sqlite":
        pytest.skip("only SQLite migrations rebuild tables (batch mode)")
    org = factory.organization()
    conversation = factory.conversation(org, users=[factory.user(organizations={org: "owner"})])
    comment = EntryFactory(session, clock).comment(
        conversation, None, attachment=NewAttachment("notes.txt", b"hello")
    )
    session.close()

    with migrate.migration_connection(engine) as connection, connection.begin():
        operations = Operations(MigrationContext.configure(connection))
        with operations.batch_alter_table("attachments", recreate="always") as batch:
            batch.alter_column("filename", existing_type=String(255), nullable=False)

    with engine.connect() as connection:
        linked = connection.scalar(select(Comment.attachment_id).where(Comment.id == comment.id))
    assert linked is not None
    assert linked == comment.attachment_id


def test_upgrading_an_up_to_date_database_only_reads_its_revision(engine: Engine) -> None:
    # Every command upgrades first; SQLite's foreign-key check after a migration reads every row
    # (minutes on a large database), so it must run only when something was migrated.
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        migrate.upgrade(engine)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert migrate.is_at_head(engine)
    assert not [s for s in statements if "foreign_key" in s.lower()], statements
    # The revision's table looked up, then read: nothing written, nothing scanned.
    assert len(statements) <= 2, statements
    assert statements[-1].lstrip().upper().startswith("SELECT"), statements


def test_upgrading_from_an_older_revision_migrates_and_checks(engine: Engine) -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config(engine))
    head = script.get_current_head()
    assert head is not None
    previous = script.get_revision(head).down_revision
    assert isinstance(previous, str)
    with migrate.migration_connection(engine) as connection, connection.begin():
        config = migrate.alembic_config(engine)
        config.attributes["connection"] = connection
        command.downgrade(config, previous)
    assert not migrate.is_at_head(engine)
    migrate.upgrade(engine)
    assert migrate.is_at_head(engine)


def test_the_search_terms_migration_backfills_what_the_services_write(
    engine: Engine, session: Session, factory: Factory, clock: FrozenClock
) -> None:
    org = factory.organization()
    alice = factory.user(organizations={org: "owner"})
    conversation = factory.conversation(org, users=[alice], subject="Refund for Zoë")
    create_comment(session, conversation, author_id=alice.id, body="Escalated", now=clock.now())
    draft = EntryFactory(session, clock).draft(conversation, alice, body="<p>Secret draft</p>")
    session.commit()
    written = set(
        session.execute(select(ConversationSearchTerm.term, ConversationSearchTerm.conversation_id))
    )
    session.close()
    assert {"refund", "zoe", "escalated", "hi", "c@example.com"} <= {t for t, _ in written}
    assert "secret" not in {t for t, _ in written}
    assert draft.draft

    config = migrate.alembic_config(engine)
    with migrate.migration_connection(engine) as connection, connection.begin():
        config.attributes["connection"] = connection
        command.downgrade(config, "0014")
    migrate.upgrade(engine)
    with engine.connect() as connection:
        backfilled = set(
            connection.execute(
                select(ConversationSearchTerm.term, ConversationSearchTerm.conversation_id)
            )
        )
    assert backfilled == written


def test_the_contact_sort_name_migration_backfills_what_the_services_write(
    engine: Engine, client: TestClient, factory: Factory
) -> None:
    _, _, token, book = contacts_support.setup(factory)
    contacts_support.create(
        client,
        token,
        {"contact_book": book.id, "first_name": "Zoë", "last_name": "Adams", "notes": "vip"},
        {"contact_book": book.id, "first_name": "Bob", "notes": "vip lead"},
    )
    factory.session.close()
    terms = ContactSearchTerm.__table__

    def stored() -> set[tuple[str, ...]]:
        with engine.connect() as connection:
            return {tuple(row) for row in connection.execute(select(terms))}

    def key() -> list[str]:
        with engine.connect() as connection:
            found: list[str] = inspect(connection).get_pk_constraint(terms.name)[
                "constrained_columns"
            ]
            return found

    written = stored()
    assert {(t, s) for _, t, s, _ in written} >= {("zoe", "adams\x1fzoe"), ("vip", "\x1fbob")}
    assert key() == ["contact_book_id", "term", "sort_name", "contact_id"]

    config = migrate.alembic_config(engine)
    with migrate.migration_connection(engine) as connection, connection.begin():
        config.attributes["connection"] = connection
        command.downgrade(config, "0015")
    assert key() == ["contact_book_id", "term", "contact_id"]
    migrate.upgrade(engine)
    assert stored() == written
    assert key() == ["contact_book_id", "term", "sort_name", "contact_id"]
