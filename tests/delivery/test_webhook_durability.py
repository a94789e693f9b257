"""Webhook deliveries are never lost nor doubled: auto-disable after 50 consecutive failed
attempts, deliveries that survive a restart, and concurrent workers that send each delivery
exactly once (PostgreSQL: ``FOR UPDATE SKIP LOCKED``; SQLite: one writer at a time)."""

from __future__ import annotations

import logging
import os
import subprocess
import threading

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from missive_server.app import create_app
from missive_server.clock import FrozenClock
from missive_server.db.engine import make_engine
from missive_server.db.models import Hook, WebhookAttempt
from missive_server.delivery.worker import Worker
from missive_server.settings import Settings
from tests.delivery.webhook_receiver import WebhookReceiver, receiver
from tests.delivery.webhook_support import (
    T0,
    fresh_hook,
    hook,
    http_client,
    make_worker,
    outbox_row,
    queue,
    worker,
    worker_for,
)
from tests.serve_support import command

__all__ = ["hook", "http_client", "make_worker", "receiver", "worker"]  # fixtures


def test_fifty_consecutive_failed_attempts_disable_the_hook(
    worker: Worker,
    session: Session,
    receiver: WebhookReceiver,
    hook: Hook,
    clock: FrozenClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver.default = 500
    # 12 deliveries whose attempts interleave (rounds at 0, 15, 45, 105 and 225 s): the 50th
    # attempt is the second of the fifth round, while every delivery is still pending.
    deliveries = [queue(session, hook, n=n) for n in range(12)]
    caplog.set_level(logging.WARNING, logger="missive_server.webhooks")
    for _ in range(600):
        worker.run_once()
        clock.advance(1)
    assert len(receiver.requests) == 50
    disabled = fresh_hook(session, hook.id)
    assert (disabled.enabled, disabled.consecutive_failures) == (False, 50)
    assert disabled.disabled_at == T0 + 225
    reason = "hook disabled after 50 consecutive failed attempts"
    rows = [outbox_row(session, d.id) for d in deliveries]
    assert {(r.status, r.last_error) for r in rows} == {("cancelled", reason)}
    logged = sorted(len(attempts_of(session, d.id)) for d in deliveries)
    assert logged == [4] * 10 + [5] * 2
    [line] = [r.getMessage() for r in caplog.records if r.name == "missive_server.webhooks"]
    assert line == (
        f"hook {hook.id} disabled after 50 consecutive failed attempts;"
        " 12 pending deliveries cancelled"
    )


def attempts_of(session: Session, delivery_id: str) -> list[WebhookAttempt]:
    stmt = select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery_id)
    return list(session.scalars(stmt))


def test_failures_are_counted_per_attempt_across_deliveries(
    worker: Worker, session: Session, receiver: WebhookReceiver, hook: Hook, clock: FrozenClock
) -> None:
    hook.consecutive_failures = 48
    session.commit()
    receiver.answers = [500]
    first = queue(session, hook, n=1)
    worker.run_once()  # 49
    second = queue(session, hook, n=2, now=clock.now())
    worker.run_once()  # a success: back to 0
    assert fresh_hook(session, hook.id).consecutive_failures == 0
    assert outbox_row(session, second.id).status == "sent"
    assert outbox_row(session, first.id).status == "pending"


def test_deliveries_queued_before_a_restart_are_delivered_after_it(
    database_url: str,
    settings: Settings,
    engine: Engine,
    session: Session,
    receiver: WebhookReceiver,
    hook: Hook,
    clock: FrozenClock,
    http_client: httpx.Client,
) -> None:
    queued = [queue(session, hook, n=n).id for n in range(3)]
    session.close()
    engine.dispose()  # the server stops: nothing but the database survives

    new_engine = make_engine(database_url)
    try:
        app = create_app(settings, clock=FrozenClock(T0 + 60), engine=new_engine)
        worker = worker_for(app, settings, app.state.clock, http_client)
        assert worker.run_once() == 3
    finally:
        new_engine.dispose()
    assert sorted(receiver.ids()) == sorted(queued)


def _drain_concurrently(app: FastAPI, settings: Settings, workers: int) -> list[BaseException]:
    """Run ``workers`` workers, each in its own thread with its own HTTP client, until none
    finds work; returns what they raised."""
    errors: list[BaseException] = []
    start = threading.Barrier(workers)

    def run() -> None:
        with httpx.Client(timeout=15, follow_redirects=False) as client:
            worker = worker_for(app, settings, FrozenClock(T0), client)
            worker.batch_size = 10
            start.wait()
            try:
                while worker.run_once():
                    pass
            except BaseException as error:  # reported by the test
                errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return errors


def test_two_workers_send_each_delivery_exactly_once(
    app: FastAPI,
    settings: Settings,
    database_url: str,
    session: Session,
    receiver: WebhookReceiver,
    hook: Hook,
) -> None:
    """On PostgreSQL the workers skip each other's locked rows; on SQLite one writer at a time
    claims (the busy timeout queues the other), and the lease keeps the rows claimed."""
    count = 200 if database_url.startswith("postgresql") else 60
    queued = [queue(session, hook, n=n).id for n in range(count)]
    errors = _drain_concurrently(app, settings, workers=2)
    assert errors == []
    ids = receiver.ids()
    assert len(ids) == count
    assert sorted(ids) == sorted(queued)  # each exactly once
    session.expire_all()
    assert {outbox_row(session, d).status for d in queued} == {"sent"}


@pytest.mark.slow(6)
def test_two_worker_processes_send_each_delivery_exactly_once(
    database_url: str, session: Session, receiver: WebhookReceiver, hook: Hook
) -> None:
    """``missive-server worker`` as its own process, twice at once."""
    queued = [queue(session, hook, n=n).id for n in range(80)]
    env = {
        **os.environ,
        "MISSIVE_DATABASE_URL": database_url,
        "MISSIVE_WEBHOOK_ALLOW_PRIVATE": "127.0.0.1",
    }
    processes = [
        subprocess.Popen(
            [*command(), "worker", "--once"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    attempted = sum(int(out.split()[1]) for out, _ in outputs)  # "Attempted N outbox item(s)"
    assert attempted == 80
    assert sorted(receiver.ids()) == sorted(queued)
