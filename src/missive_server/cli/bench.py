"""``missive-server bench-data``: fill a database with the benchmark dataset (bench/README.md).

Thin: ``services.bench_data`` decides what is written; this parses, shows progress and reports.
"""

from __future__ import annotations

import time

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from missive_server.cli.common import fail, open_engine, stderr, url_of
from missive_server.db import migrate as migrations
from missive_server.services.seed import bench_data
from missive_server.settings import Settings


def bench_data_command(
    conversations: int = typer.Option(
        ...,
        "--conversations",
        min=1,
        max=bench_data.MAX_CONVERSATIONS,
        help="Conversations in the owner's inbox.",
    ),
    messages_per_conversation: int = typer.Option(
        2, "--messages-per-conversation", min=1, help="Inbound emails per conversation."
    ),
    contacts: int | None = typer.Option(
        None,
        "--contacts",
        min=1,
        help="Contacts in the shared book (default: one per ten conversations).",
    ),
    seed: int = typer.Option(7, "--seed", help="Seed of the name generator."),
) -> None:
    """Generate the benchmark dataset in MISSIVE_DATABASE_URL (use an empty database)."""

    people = contacts if contacts is not None else max(1, conversations // 10)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    started = time.perf_counter()
    with open_engine(Settings()) as engine:
        migrations.upgrade(engine)
        with Progress(*columns, console=stderr()) as progress:
            task = progress.add_task(
                f"{people:,} contacts, then {conversations:,} conversations",
                total=people + conversations,
            )
            try:
                dataset = bench_data.generate(
                    engine,
                    conversations=conversations,
                    messages_per_conversation=messages_per_conversation,
                    contacts=people,
                    seed=seed,
                    progress=lambda done, _total: progress.update(task, completed=done),
                )
            except bench_data.DatasetExists:
                fail(
                    f"{url_of(engine)} already holds a bench dataset (user "
                    f"{bench_data.OWNER_EMAIL}); point MISSIVE_DATABASE_URL at an empty database"
                )
    console = Console(soft_wrap=True)
    console.print(
        f"Generated {conversations:,} conversations ({messages_per_conversation} emails each) and "
        f"{people:,} contacts in {time.perf_counter() - started:.1f} s"
    )
    console.print(f"Token: {dataset.token}")
    console.print(f"Contact book: {dataset.contact_book_id}")
