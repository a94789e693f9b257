"""``missive-server outbox`` (table, ``--raw``) and ``missive-server worker`` (``--once``, and the
foreground loop in a real process stopped by a signal)."""

from __future__ import annotations

import os
import signal
import subprocess
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from missive_server.cli import app as cli
from tests.delivery.mail_support import T0, Queued, World, fresh, make_world, queue_mail
from tests.factories import Factory
from tests.serve_support import STARTUP_SECONDS, command, wait_until

TO = "paul@example.com, carol@example.com"
SUBJECT = "Re: Ünïcode ✓ subject"


@pytest.fixture
def run(database_url: str) -> Any:
    def invoke(*args: str, **env: str) -> Result:
        # A wide terminal, so rich never wraps or truncates a cell.
        env = {"MISSIVE_DATABASE_URL": database_url, "COLUMNS": "300", **env}
        return CliRunner().invoke(cli, list(args), env=env)

    return invoke


@pytest.fixture
def world(factory: Factory) -> World:
    return make_world(factory)


def table_rows(output: str) -> list[list[str]]:
    """The body rows of a rich table (the header row is drawn with ┃), as stripped cells."""
    rows = [line.split("│")[1:-1] for line in output.splitlines() if line.startswith("│")]
    return [[cell.strip() for cell in row] for row in rows]


@pytest.fixture
def three(app: FastAPI, session: Session, world: World) -> tuple[Queued, Queued, Queued]:
    """A captured mail, a failed one and a pending one, oldest first."""
    captured = queue_mail(session, world.conversation, T0)
    app.state.worker.run_once()
    doomed = queue_mail(session, world.conversation, T0 + 60)
    doomed.item.payload = {"envelope_from": "alice@acme.test", "recipients": []}
    doomed.item.next_attempt_at = T0
    session.commit()
    app.state.worker.run_once()
    pending = queue_mail(session, world.conversation, T0 + 120)
    pending.item.next_attempt_at = T0 + 3600
    session.commit()
    return captured, doomed, pending


def test_an_empty_outbox_says_so(run: Any) -> None:
    result = run("outbox")

    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert result.stderr == "The outbox is empty: nothing was sent yet.\n"


def test_the_outbox_table_shows_every_row_newest_first(
    run: Any, three: tuple[Queued, Queued, Queued]
) -> None:
    captured, doomed, pending = three

    result = run("outbox")

    assert result.exit_code == 0, result.output
    header = next(line for line in result.stdout.splitlines() if "┃" in line)
    assert [cell.strip() for cell in header.split("┃")[1:-1]] == [
        "id",
        "kind",
        "status",
        "attempts",
        "to",
        "subject",
        "created (UTC)",
        "error",
    ]
    error = "cannot write this message: the outbox payload has no 'recipients'"
    sent = "sent (captured)"
    assert table_rows(result.stdout) == [
        [pending.item.id[:8], "mail", "pending", "0/3", TO, SUBJECT, "2023-11-14 22:15", ""],
        [doomed.item.id[:8], "mail", "failed", "1/3", TO, SUBJECT, "2023-11-14 22:14", error],
        [captured.item.id[:8], "mail", sent, "1/3", TO, SUBJECT, "2023-11-14 22:13", ""],
    ]
    assert result.stderr == "Show one: missive-server outbox --raw <id>\n"


def test_limit_shows_the_newest_rows(run: Any, three: tuple[Queued, Queued, Queued]) -> None:
    result = run("outbox", "--limit", "2")

    assert [row[0] for row in table_rows(result.stdout)] == [
        three[2].item.id[:8],
        three[1].item.id[:8],
    ]
    assert run("outbox", "--limit", "0").exit_code == 2


def test_raw_prints_the_exact_message(
    run: Any, session: Session, three: tuple[Queued, Queued, Queued]
) -> None:
    captured = three[0]
    raw = fresh(session, captured.item).raw

    whole, short = (
        run("outbox", "--raw", captured.item.id),
        run("outbox", "--raw", captured.item.id[:8]),
    )

    assert (whole.exit_code, short.exit_code) == (0, 0)
    assert whole.stdout_bytes == raw
    assert short.stdout_bytes == raw


def test_raw_of_an_unknown_or_unsent_row_fails(
    run: Any, three: tuple[Queued, Queued, Queued]
) -> None:
    pending = three[2].item

    unknown, unsent = run("outbox", "--raw", "nope"), run("outbox", "--raw", pending.id)

    assert unknown.exit_code == 1
    assert unknown.stderr == "Error: Outbox item with id 'nope' does not exist\n"
    assert unsent.exit_code == 1
    assert unsent.stderr == f"Error: Outbox item {pending.id} has no message yet (it is pending)\n"


def test_worker_once_delivers_what_is_due(run: Any, session: Session, world: World) -> None:
    queued = queue_mail(session, world.conversation, T0)

    result = run("worker", "--once")

    assert result.exit_code == 0, result.output
    assert result.stdout == "Attempted 1 outbox item(s)\n"
    item = fresh(session, queued.item)
    assert (item.status, item.captured, item.attempts) == ("sent", True, 1)


def test_worker_refuses_a_malformed_relay_url(run: Any) -> None:
    result = run("worker", "--once", MISSIVE_SMTP_URL="relay.example.com:25")

    assert result.exit_code == 1
    assert result.stderr == "Error: MISSIVE_SMTP_URL must start with smtp:// or smtps://\n"


@pytest.mark.slow(5)
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_the_worker_process_delivers_until_stopped(
    database_url: str, session: Session, world: World, stop: signal.Signals
) -> None:
    queued = queue_mail(session, world.conversation, T0)
    env = {
        **os.environ,
        "MISSIVE_DATABASE_URL": database_url,
        "MISSIVE_WORKER_POLL_SECONDS": "0.05",
    }
    process = subprocess.Popen(
        [*command(), "worker"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:

        def sent() -> bool:
            assert process.poll() is None, process.communicate()
            return fresh(session, queued.item).status == "sent"

        wait_until(sent, STARTUP_SECONDS, "the worker process delivered nothing")
        process.send_signal(stop)
        _, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert process.returncode == 0, stderr
    assert b"Delivering from " in stderr
    assert stderr.endswith(b"Delivery worker stopped\n")
