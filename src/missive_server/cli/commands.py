"""The ``missive-server`` command line. Thin: parse, call services, print.

Results go to stdout (tokens, JSON); progress, notes and errors go to stderr, so
``missive-server token create ... | pbcopy`` and ``missive-server seed f.json > ids.json`` work.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
import uvicorn
from alembic.runtime.migration import MigrationContext
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from missive_server.app import build_worker, http_client
from missive_server.cli.bench import bench_data_command
from missive_server.cli.common import fail, open_database, open_engine, stderr, url_of
from missive_server.cli.contacts import contact_books_app, contacts_app
from missive_server.cli.passwords import password_app
from missive_server.clock import SystemClock
from missive_server.db import migrate as migrations
from missive_server.db.engine import engine_from_settings
from missive_server.delivery.inbound import InboundServer, parse_listen
from missive_server.delivery.mail import SmtpRelay
from missive_server.delivery.worker import Worker
from missive_server.errors import ApiError, NotFound
from missive_server.schemas.seed import SeedDocument
from missive_server.services import outbox as outbox_service
from missive_server.services.directory import tokens
from missive_server.services.seed import demo as demo_service
from missive_server.services.seed import seed as seed_service
from missive_server.services.sessions import session_factory
from missive_server.settings import Settings

app = typer.Typer(
    name="missive-server",
    help="A server that speaks Missive's public REST API v1.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
token_app = typer.Typer(help="Create and revoke API tokens.", no_args_is_help=True)
app.add_typer(token_app, name="token")
app.add_typer(contact_books_app, name="contact-books")
app.add_typer(contacts_app, name="contacts")
app.add_typer(password_app, name="password")
app.command("bench-data")(bench_data_command)


def main() -> None:
    app()


@app.command()
def migrate() -> None:
    """Apply the database migrations to MISSIVE_DATABASE_URL."""
    with open_engine(Settings()) as engine:
        before = _revision(engine)
        migrations.upgrade(engine)
        after = _revision(engine)
    if before == after:
        typer.echo(f"{url_of(engine)}: already at the latest revision ({after})")
    else:
        typer.echo(f"{url_of(engine)}: migrated from {before or 'an empty database'} to {after}")


def _revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", envvar="MISSIVE_HOST", help="Interface to listen on."),
    port: int = typer.Option(8080, envvar="MISSIVE_PORT", help="Port to listen on."),
    emulator: bool = typer.Option(
        False, "--emulator", help="Mount the /_emulator/* control plane."
    ),
    workers: int = typer.Option(1, min=1, help="Worker processes."),
    smtp_listen: str | None = typer.Option(
        None,
        "--smtp-listen",
        metavar="HOST:PORT",
        help="Also receive email over SMTP here, e.g. 127.0.0.1:2525 (MISSIVE_SMTP_LISTEN).",
    ),
) -> None:
    """Migrate the database, then serve the API (uvicorn with uvloop and httptools)."""
    # Through the environment so every worker process builds the same settings; the public
    # URL (web_url, attachment links) defaults to this host and port.
    os.environ["MISSIVE_HOST"], os.environ["MISSIVE_PORT"] = host, str(port)
    if emulator:
        os.environ["MISSIVE_EMULATOR"] = "1"
    settings = Settings()
    if settings.emulator and workers > 1:
        # The emulator's clock and faults live in the process: N processes would disagree.
        fail("--emulator serves from one process: drop --workers (or set it to 1)")
    if workers > 1 and settings.rate_limit != "off" and not settings.redis_url:
        # A warning, not a refusal: several processes without Redis still serve correctly,
        # only with a larger budget, and `serve --workers N` has always started that way.
        stderr().print(
            f"[bold yellow]Warning:[/] {workers} worker processes without MISSIVE_REDIS_URL: "
            "each counts its own rate limits, so a token may make "
            f"{workers} times the configured requests. Set MISSIVE_REDIS_URL to share one "
            "budget (or MISSIVE_RATE_LIMIT=off to say you mean it)."
        )
    with open_engine(settings) as engine:
        migrations.upgrade(engine)
    stderr().print(
        f"Missive API v1 on {settings.public_base}/v1 (database {escape(url_of(engine))})"
    )
    with _smtp_listener(settings, smtp_listen or settings.smtp_listen):
        uvicorn.run(
            "missive_server.app:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            loop="uvloop",
            http="httptools",
            access_log=settings.access_log,
        )


@contextmanager
def _smtp_listener(settings: Settings, listen: str | None) -> Iterator[None]:
    """The inbound SMTP listener, beside uvicorn in this process rather than in the app's
    lifespan: with ``--workers N`` every worker process runs the lifespan, and only one may
    bind the port."""
    if not listen:
        yield
        return
    try:
        host, port = parse_listen(listen)
    except ValueError as error:
        fail(f"--smtp-listen: {error}")
    engine = engine_from_settings(settings)
    server = InboundServer(
        session_factory(engine, public_url=settings.public_base),
        SystemClock(),
        host,
        port,
        settings.smtp_max_message_bytes,
    )
    try:
        server.start()
    except OSError as error:
        engine.dispose()
        fail(f"Cannot receive SMTP on {listen}: {error.strerror or error}")
    stderr().print(f"Receiving email on smtp://{host}:{port}")
    try:
        yield
    finally:
        server.stop()
        engine.dispose()


@token_app.command("create")
def token_create(
    email: str = typer.Option(..., "--email", help="Email of the user the token acts as."),
    name: str | None = typer.Option(None, "--name", help="A label to tell tokens apart."),
) -> None:
    """Print a new API token (missive_pat-...); it is shown only once."""
    with open_database(Settings()) as session:
        try:
            user = tokens.find_user_by_email(session, email)
        except NotFound:
            fail(
                f"No user has the email '{email}'; create one with `missive-server seed` or `demo`"
            )
        token = tokens.issue_token(session, user_id=user.id, now=SystemClock().now(), name=name)
    typer.echo(token)
    stderr().print(
        f"Token for {escape(user.name)} <{escape(user.email)}>: store it now, it is shown once."
    )


@token_app.command("revoke")
def token_revoke(token: str = typer.Argument(..., help="The token to revoke.")) -> None:
    """Revoke an API token; requests with it then get 401."""
    with open_database(Settings()) as session:
        try:
            tokens.revoke_token(session, token=token.strip(), now=SystemClock().now())
        except NotFound:
            fail("No active token matches: it is unknown or already revoked")
    typer.echo("Token revoked")


@app.command()
def seed(
    file: str = typer.Argument(..., metavar="FILE.json", help="Seed document; '-' reads stdin."),
) -> None:
    """Create what a seed document describes (idempotent); print the ids and tokens as JSON."""
    raw = _read_json(file)
    try:
        document = seed_service.parse_document(raw)
    except seed_service.SeedError as error:
        fail(error.message)
    with open_database(Settings()) as session:
        try:
            result = _seed_with_progress(session, document)
        except seed_service.SeedError as error:
            fail(error.message)
    for note in result.notes:
        stderr().print(f"Note: {escape(note)}")
    typer.echo(json.dumps(result.as_json(), indent=2, ensure_ascii=False))


def _read_json(file: str) -> Any:
    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    except OSError as error:
        fail(f"Cannot read {file}: {error.strerror}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        fail(f"{file}: line {error.lineno} column {error.colno}: {error.msg}")


def _seed_with_progress(session: Session, document: SeedDocument) -> seed_service.SeedResult:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=stderr(), transient=True) as progress:
        task = progress.add_task("Seeding", total=document.entry_count())

        def advance(label: str) -> None:
            progress.update(task, advance=1, description=f"Seeding {escape(label)}")

        return seed_service.seed(session, document, now=SystemClock().now(), progress=advance)


@app.command()
def demo(
    quiet_if_seeded: bool = typer.Option(
        False, "--quiet-if-seeded", help="When the demo exists, only print its token."
    ),
) -> None:
    """Seed the demo organization (Acme Inc.) and print a token and a curl example."""
    settings = Settings()
    with open_database(settings) as session:
        if quiet_if_seeded and demo_service.demo_is_seeded(session):
            active = tokens.authenticate(session, demo_service.DEMO_OWNER_TOKEN) is not None
            _print_demo_token(settings, active)
            return
        document = demo_service.demo_document(SystemClock().now())
        result = _seed_with_progress(session, document)
    _print_demo(settings, document, result)


def _curl(settings: Settings, token: str) -> str:
    url = f"{settings.public_base}/v1/conversations?inbox=true"
    return f'curl -H "Authorization: Bearer {token}" "{url}"'


def _print_demo(
    settings: Settings, document: SeedDocument, result: seed_service.SeedResult
) -> None:
    table = Table.grid(padding=(0, 2))
    table.add_row(
        "Organization",
        f"{demo_service.DEMO_ORGANIZATION} ({len(document.conversations)} conversations)",
    )
    for user in document.users:
        role = user.organizations.get(demo_service.DEMO_ORGANIZATION, "user")
        table.add_row(f"{user.name} ({role})", f"{user.email}  {result.tokens.get(user.email, '')}")
    console = Console(soft_wrap=True)
    console.print(Panel(table, title="Demo organization ready", expand=False))
    _print_demo_passwords(console, settings)
    console.print(f"Token of the owner: {demo_service.DEMO_OWNER_TOKEN}")
    console.print("Try it (after `missive-server serve`):")
    console.print(_curl(settings, demo_service.DEMO_OWNER_TOKEN))


def _print_demo_passwords(console: Console, settings: Settings) -> None:
    console.print(f"Web sign-in at {escape(settings.public_base)}/sign-in (email / password):")
    for email, password in demo_service.DEMO_PASSWORDS.items():
        console.print(f"  {email} / {password}")


def _print_demo_token(settings: Settings, active: bool) -> None:
    console = Console(soft_wrap=True)
    if not active:
        console.print(
            f"The demo token was revoked; create one with `missive-server token create --email "
            f"{demo_service.DEMO_OWNER_EMAIL}`"
        )
        return
    console.print(f"Demo organization '{demo_service.DEMO_ORGANIZATION}' is already seeded.")
    _print_demo_passwords(console, settings)
    console.print(f"Token of the owner: {demo_service.DEMO_OWNER_TOKEN}")
    console.print("Try it:")
    console.print(_curl(settings, demo_service.DEMO_OWNER_TOKEN))


@app.command()
def worker(
    once: bool = typer.Option(False, "--once", help="Deliver what is due now, then exit."),
) -> None:
    """Deliver queued mail and channel messages until Ctrl-C (a separate worker process;
    `serve` runs one in a thread unless MISSIVE_RUN_WORKER=false)."""
    settings = Settings()
    with open_engine(settings) as engine, http_client() as client:
        migrations.upgrade(engine)
        try:
            runner = build_worker(
                settings,
                session_factory(engine, public_url=settings.public_base),
                clock=SystemClock(),
                client=client,
            )
        except ValueError as error:  # a malformed MISSIVE_SMTP_URL
            fail(str(error))
        if once:
            typer.echo(f"Attempted {runner.run_once()} outbox item(s)")
            return
        where = (
            f"via {SmtpRelay.from_url(settings.smtp_url).address}"
            if settings.smtp_url
            else "(no MISSIVE_SMTP_URL: capturing)"
        )
        stderr().print(f"Delivering from {escape(url_of(engine))} {where}; Ctrl-C stops")
        _run_until_stopped(runner, settings.worker_poll_seconds)


def _run_until_stopped(runner: Worker, poll_seconds: float) -> None:
    stop = threading.Event()
    # SIGTERM (docker stop, systemd) finishes the current pass; the row leases cover a kill.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with suppress(KeyboardInterrupt):
        runner.run_forever(stop, poll_seconds)
    stderr().print("Delivery worker stopped")


@app.command()
def outbox(
    limit: int = typer.Option(20, "--limit", min=1, help="Rows to show, newest first."),
    raw: str | None = typer.Option(
        None, "--raw", metavar="ID", help="Print the exact message of one row (id or prefix)."
    ),
) -> None:
    """What the server sent, captured (no MISSIVE_SMTP_URL), is retrying or gave up on."""
    with open_database(Settings()) as session:
        if raw is not None:
            try:
                item = outbox_service.find_outbox_entry(session, item_id=raw).item
            except ApiError as error:
                fail(error.message)
            if item.raw is None:
                fail(f"Outbox item {item.id} has no message yet (it is {item.status})")
            typer.echo(item.raw, nl=False)
            return
        entries = outbox_service.list_outbox(session, limit=limit)
    _print_outbox(entries)


_STATUS_STYLES = {"sent": "green", "failed": "bold red", "pending": "yellow", "cancelled": "dim"}


def _print_outbox(entries: Sequence[outbox_service.OutboxEntry]) -> None:
    if not entries:
        stderr().print("The outbox is empty: nothing was sent yet.")
        return
    table = Table("id", "kind", "status", "attempts", "to", "subject", "created (UTC)", "error")
    for entry in entries:
        item, message = entry.item, entry.message
        status = f"{item.status} (captured)" if item.captured else item.status
        to = [] if message is None else [*message.to_fields, *message.cc_fields]
        table.add_row(
            item.id[:8],
            item.kind,
            f"[{_STATUS_STYLES.get(item.status, '')}]{status}[/]",
            f"{item.attempts}/{item.max_attempts}",
            escape(", ".join(str(f.get("address") or f.get("name") or "") for f in to)),
            escape(message.subject or "") if message else "",
            datetime.fromtimestamp(item.created_at, UTC).strftime("%Y-%m-%d %H:%M"),
            escape(item.last_error or ""),
        )
    Console().print(table)
    stderr().print("Show one: missive-server outbox --raw <id>")


if __name__ == "__main__":
    main()
