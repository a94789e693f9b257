"""``missive-server contact-books create`` and ``missive-server contacts delete``."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.db.models import ContactBook
from tests.api.contacts_support import create, listed
from tests.cli.test_cli import one_line, run  # noqa: F401  (the ``run`` fixture)
from tests.factories import Factory


@pytest.fixture
def cli(run):  # type: ignore[no-untyped-def]  # noqa: F811
    return run


def test_create_a_shared_book_then_delete_contacts(
    cli,
    client: TestClient,
    factory: Factory,
    session: Session,  # type: ignore[no-untyped-def]
) -> None:
    acme = factory.organization("Acme")
    owner, token = factory.member(acme, "owner", email="owner@acme.test")
    bob, _ = factory.member(acme, email="bob@acme.test")
    factory.team(acme, "Sales", active=[bob])

    made = cli(
        "contact-books",
        "create",
        "--name",
        "Leads",
        "--organization",
        "Acme",
        "--share-with-team",
        "Sales",
        "--share-with-user",
        "bob@acme.test",
        "--description",
        "New",
        "--exclude-from-search",
    )
    assert made.exit_code == 0, made.output
    book = session.get(ContactBook, made.stdout.strip())
    assert book is not None
    assert (book.name, book.user_id, book.organization_id, book.description) == (
        "Leads",
        owner.id,
        acme.id,
        "New",
    )
    assert book.exclude_from_search is True

    [one, two] = create(
        client,
        token,
        {"contact_book": book.id, "first_name": "A"},
        {"contact_book": book.id, "first_name": "B"},
    )
    deleted = cli("contacts", "delete", one["id"])
    assert (deleted.exit_code, deleted.stdout.strip()) == (0, "Deleted 1 contact(s)")
    assert [c["id"] for c in listed(client, token, f"contact_book={book.id}")] == [two["id"]]

    again = cli("contacts", "delete", two["id"], one["id"])
    assert again.exit_code == 1
    assert f"Contact with id '{one['id']}' does not exist; nothing was deleted" in one_line(
        again.stderr
    )
    assert len(listed(client, token, f"contact_book={book.id}")) == 1


def test_create_errors_say_what_to_fix(cli, factory: Factory) -> None:  # type: ignore[no-untyped-def]
    acme = factory.organization("Acme")
    factory.member(acme, "owner", email="owner@acme.test")
    cases = [
        (["--name", "X", "--organization", "Nope"], "no organization has the id or name 'Nope'"),
        (["--name", "X"], "--owner is required for a personal book"),
        (["--name", "X", "--owner", "who@acme.test"], "no user has the email 'who@acme.test'"),
        (
            ["--name", "X", "--organization", "Acme", "--share-with-team", "T"],
            "no team has the id or name 'T' in 'Acme'",
        ),
        (
            ["--name", "X", "--owner", "owner@acme.test", "--share-with-organization"],
            "a personal contact book (no organization) cannot be shared",
        ),
    ]
    for args, message in cases:
        result = cli("contact-books", "create", *args)
        assert result.exit_code == 1, args
        assert message in one_line(result.stderr), (args, result.stderr)
