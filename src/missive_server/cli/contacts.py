"""``missive-server contact-books create`` and ``missive-server contacts delete``: Missive's API
has neither, so emulators and self-hosters manage books and deletions here. Thin: services decide.
"""

from __future__ import annotations

import typer

from missive_server.cli.common import fail, open_database
from missive_server.clock import SystemClock
from missive_server.errors import ApiError
from missive_server.services.contacts import contact_books
from missive_server.services.contacts import contacts as contacts_service
from missive_server.settings import Settings

contact_books_app = typer.Typer(
    help="Manage contact books (no Missive API for them).", no_args_is_help=True
)
contacts_app = typer.Typer(help="Manage contacts outside the API.", no_args_is_help=True)


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
    exclude_from_search: bool = typer.Option(
        False, "--exclude-from-search", help="Keep its contacts out of global contact search."
    ),
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
        exclude_from_search=exclude_from_search,
    )
    with open_database(Settings()) as session:
        try:
            book = contact_books.create_contact_book_from_refs(
                session, refs, now=SystemClock().now()
            )
        except ApiError as error:
            fail(error.message)
        book_id = book.id
    typer.echo(book_id)


@contacts_app.command("delete")
def contacts_delete(
    ids: list[str] = typer.Argument(..., help="Contact ids."),
) -> None:
    """Mark contacts deleted: they leave lists and search, and sync as deleted stubs."""
    with open_database(Settings()) as session:
        try:
            deleted = contacts_service.delete_contacts(
                session, [i.strip().lower() for i in ids], now=SystemClock().now()
            )
        except ApiError as error:
            fail(f"{error.message}; nothing was deleted")
    typer.echo(f"Deleted {len(deleted)} contact(s)")
