"""``missive-server contact-books create`` and ``missive-server contacts delete``: Missive's API
has neither, so emulators and self-hosters manage books and deletions here. Thin: services decide.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import NoReturn

import typer
from sqlalchemy.orm import Session

from missive_server.clock import SystemClock
from missive_server.errors import ApiError
from missive_server.services import contact_books
from missive_server.services import contacts as contacts_service
from missive_server.settings import Settings

contact_books_app = typer.Typer(
    help="Manage contact books (no Missive API for them).", no_args_is_help=True
)
contacts_app = typer.Typer(help="Manage contacts outside the API.", no_args_is_help=True)


def _database() -> AbstractContextManager[Session]:
    # ``cli`` owns the settings, the migrated database and error printing; it imports this
    # module to register the sub-commands, so import it at call time.
    from missive_server import cli

    return cli._database(Settings())


def _fail(message: str) -> NoReturn:
    from missive_server import cli

    cli._fail(message)


@contact_books_app.command("create")
def contact_book_create(
    name: str = typer.Option(..., "--name", help="The book's name."),
    organization: str | None = typer.Option(
        None, "--organization", help="Organization id or name; omit for a personal book."
    ),
    owner: str | None = typer.Option(
        None, "--owner", help="Owner's email (default: the organization's first owner)."
    ),
    description: str | None = typer.Option(None, "--description"),
    share_with_organization: bool = typer.Option(False, "--share-with-organization"),
    share_with_team: str | None = typer.Option(None, "--share-with-team", help="Team id or name."),
    share_with_user: list[str] = typer.Option([], "--share-with-user", help="Email; repeatable."),
) -> None:
    """Create a contact book and print its id."""
    refs = contact_books.ContactBookRefs(
        name=name,
        organization=organization,
        owner=owner,
        description=description,
        share_with_organization=share_with_organization,
        share_with_team=share_with_team,
        share_with_users=tuple(share_with_user),
    )
    with _database() as session:
        try:
            book = contact_books.create_contact_book_from_refs(
                session, refs, now=SystemClock().now()
            )
        except ApiError as error:
            _fail(error.message)
        book_id = book.id
    typer.echo(book_id)


@contacts_app.command("delete")
def contacts_delete(
    ids: list[str] = typer.Argument(..., help="Contact ids."),
) -> None:
    """Mark contacts deleted: they leave lists and search, and sync as deleted stubs."""
    with _database() as session:
        try:
            deleted = contacts_service.delete_contacts(
                session, [i.strip().lower() for i in ids], now=SystemClock().now()
            )
        except ApiError as error:
            _fail(f"{error.message}; nothing was deleted")
    typer.echo(f"Deleted {len(deleted)} contact(s)")
