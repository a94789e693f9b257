"""``missive-server password set``: the web sign-in password of a user (Argon2id). Typed at a
hidden prompt, or read from stdin with ``--stdin`` for scripts; never taken as an argument, where
it would land in shell history and ``ps``."""

from __future__ import annotations

import sys

import typer

from missive_server.cli.common import fail, open_database, stderr
from missive_server.errors import ApiError
from missive_server.services.directory import passwords, tokens
from missive_server.settings import Settings

password_app = typer.Typer(help="Set web sign-in passwords.", no_args_is_help=True)


@password_app.command("set")
def password_set(
    email: str = typer.Option(..., "--email", help="Email of the user."),
    from_stdin: bool = typer.Option(
        False, "--stdin", help="Read the password from the first line of stdin."
    ),
) -> None:
    """Set (or replace) a user's password for signing in to the web app."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    try:
        passwords.check_password_rules(password)
    except ApiError as error:
        fail(error.message)
    with open_database(Settings()) as session:
        try:
            user = tokens.find_user_by_email(session, email)
        except ApiError:
            fail(f"No user has the email '{email}'")
        passwords.set_password(user=user, password=password)
    stderr().print(f"Password set for {user.email}; sign in at the web app with it.")
