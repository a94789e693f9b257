"""Two real ``missive-server serve`` processes on one PostgreSQL database receive the same
keyed ``send: true`` draft at once (issue 14): exactly one message is written and exactly one
mail reaches the SMTP relay (aiosmtpd on loopback), sent by the processes' own workers.

Runs only when ``MISSIVE_TEST_DATABASE_URL`` is set (several processes need PostgreSQL).
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func, select

from missive_server.db.models import Message, OutboxItem
from tests.api.drafts_support import email_draft, make_world
from tests.conftest import bearer
from tests.delivery.mail_support import Relay, running
from tests.factories import Factory
from tests.serve_support import command, free_port

pytestmark = pytest.mark.skipif(
    not os.environ.get("MISSIVE_TEST_DATABASE_URL"),
    reason="set MISSIVE_TEST_DATABASE_URL to run",
)
REQUESTS = 8
DELIVERY_DEADLINE = 60.0
STARTUP_SECONDS = 90.0
SUBJECT = "Once across processes"


@contextmanager
def serving(
    database_url: str, relay: Relay, log: Path
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MISSIVE_")},
        "MISSIVE_DATABASE_URL": database_url,
        "MISSIVE_RATE_LIMIT": "off",
        "MISSIVE_SMTP_URL": relay.url,
        "MISSIVE_RUN_WORKER": "true",
        "MISSIVE_WORKER_POLL_SECONDS": "0.2",
        "MISSIVE_WEB_UI": "false",
    }
    with log.open("wb") as out:
        server = subprocess.Popen(
            [*command(), "serve", "--port", str(port)], env=env, stdout=out, stderr=out
        )
    try:
        yield server, f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=40)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_one_key_sent_to_two_serve_processes_writes_and_mails_once(
    database_url: str, factory: Factory, engine: Engine, tmp_path: Path
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("several processes need PostgreSQL")
    world = make_world(factory)
    body = {"drafts": email_draft(subject=SUBJECT, send=True, organization=world.org.id)}
    headers = {**bearer(world.token), "Idempotency-Key": "two-processes"}

    with ExitStack() as stack:
        relay = stack.enter_context(running(Relay()))
        servers = [
            stack.enter_context(serving(database_url, relay, tmp_path / f"serve{n}.log"))
            for n in range(2)
        ]
        for process, base in servers:
            _wait_for(base, process, tmp_path)
        responses = _fire(body, headers, [base for _, base in servers])
        _wait_until_delivered(engine)
        mails = list(relay.received)

    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, [r.text for r in responses]
    created = [r for r in responses if r.status_code == 201]
    originals = [r for r in created if "idempotent-replayed" not in r.headers]
    assert len(originals) == 1, statuses
    assert {r.content for r in created} == {originals[0].content}
    with engine.connect() as connection:
        messages = connection.scalar(
            select(func.count()).select_from(Message).where(Message.subject == SUBJECT)
        )
        rows = connection.execute(select(OutboxItem.kind, OutboxItem.status)).all()
    assert messages == 1
    assert [tuple(r) for r in rows] == [("mail", "sent")]
    assert len(mails) == 1
    assert mails[0].rcpt_tos == ["paul@example.com"]


def _wait_for(base: str, process: subprocess.Popen[bytes], logs: Path) -> None:
    """Until ``serve`` answers (a loaded machine takes a while to import and migrate)."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = "\n".join(p.read_text() for p in sorted(logs.glob("serve*.log")))
            raise AssertionError(f"serve exited with {process.returncode}:\n{output}")
        try:
            if httpx.get(f"{base}/v1/organizations", timeout=2).status_code == 401:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"serve did not answer within {STARTUP_SECONDS} s")


def _fire(body: object, headers: dict[str, str], bases: list[str]) -> list[httpx.Response]:
    """``REQUESTS`` requests released together, alternating between the servers."""
    barrier = threading.Barrier(REQUESTS)
    responses: list[httpx.Response] = []
    lock = threading.Lock()

    def one(base: str) -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            barrier.wait()
            response = client.post("/v1/drafts", json=body, headers=headers)
        with lock:
            responses.append(response)

    threads = [threading.Thread(target=one, args=(bases[i % 2],)) for i in range(REQUESTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(responses) == REQUESTS
    return responses


def _wait_until_delivered(engine: Engine) -> None:
    """Until the outbox holds rows and none is pending (the workers poll every 0.2 s)."""
    deadline = time.monotonic() + DELIVERY_DEADLINE
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            statuses = list(connection.scalars(select(OutboxItem.status)))
        if statuses and "pending" not in statuses:
            return
        time.sleep(0.1)
    raise AssertionError(f"outbox still pending after {DELIVERY_DEADLINE} s: {statuses}")
