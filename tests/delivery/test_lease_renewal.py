"""Leases are renewed per row: a delivery slower than the lease is never sent again by a second
worker, and a row of a batch whose lease ran out before its turn is not sent twice either.

Real time here (``SystemClock``, a one-second lease, a receiver answering after 2.5 s): the
lease is what two workers coordinate through, and it expires by the clock they both read.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session

from missive_server.app import build_worker
from missive_server.clock import SystemClock
from missive_server.db.models import Hook
from missive_server.delivery.worker import Worker
from missive_server.settings import Settings
from tests.delivery.webhook_receiver import Request, WebhookReceiver, receiver
from tests.delivery.webhook_support import LOOPBACK_ALLOWED, T0, hook, outbox_row, queue

__all__ = ["hook", "receiver"]  # fixtures

SLOW_SECONDS = 2.5


@pytest.fixture
def short_lease_worker(app: FastAPI, settings: Settings) -> Iterator[Callable[[], Worker]]:
    """Workers as ``serve`` builds them, with a one-second lease and the system clock; each has
    its own HTTP client, as separate processes would."""
    clients: list[httpx.Client] = []
    changed = settings.model_copy(update={**LOOPBACK_ALLOWED, "delivery_lease_seconds": 1})

    def build() -> Worker:
        clients.append(httpx.Client(follow_redirects=False))
        return build_worker(
            changed, app.state.session_factory, clock=SystemClock(), client=clients[-1]
        )

    yield build
    for client in clients:
        client.close()


def slow_for(receiver: WebhookReceiver, ids: set[str]) -> None:
    def wait(request: Request) -> None:
        if request.headers["webhook-id"] in ids:
            time.sleep(SLOW_SECONDS)

    receiver.on_request = wait


def run_while_another_polls(first: Worker, second: Worker) -> list[int]:
    """``first.run_once()`` in a thread; ``second`` polls every 0.2 s until it ends. Returns
    how many rows each pass of ``second`` attempted."""
    done = threading.Event()
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(first.run_once())
        except BaseException as error:  # surfaced below, not lost in the thread
            outcome.append(error)
        finally:
            done.set()

    thread = threading.Thread(target=run)
    thread.start()
    attempted: list[int] = []
    while not done.wait(0.2):
        attempted.append(second.run_once())
    thread.join()
    assert not isinstance(outcome[0], BaseException), outcome
    return attempted


def test_a_delivery_slower_than_the_lease_reaches_the_receiver_once(
    session: Session,
    hook: Hook,
    receiver: WebhookReceiver,
    short_lease_worker: Callable[[], Worker],
) -> None:
    delivery = queue(session, hook)
    slow_for(receiver, {delivery.id})

    attempted = run_while_another_polls(short_lease_worker(), short_lease_worker())

    assert len(attempted) >= 5  # the second worker polled past the one-second lease
    assert sum(attempted) == 0
    assert receiver.ids() == [delivery.id]
    row = outbox_row(session, delivery.id)
    assert (row.status, row.attempts, row.locked_until) == ("sent", 1, None)


def test_a_row_whose_lease_ran_out_while_it_waited_its_turn_is_sent_once(
    session: Session,
    hook: Hook,
    receiver: WebhookReceiver,
    short_lease_worker: Callable[[], Worker],
) -> None:
    # One pass claims both rows; the first is slow, so the second's lease expires before its
    # turn and the polling worker takes it over: the first worker must then leave it alone.
    # Due a second earlier, the slow row is delivered first.
    slow, waiting = queue(session, hook, n=1, now=T0 - 1), queue(session, hook, n=2)
    slow_for(receiver, {slow.id})

    attempted = run_while_another_polls(short_lease_worker(), short_lease_worker())

    assert sum(attempted) == 1  # the polling worker took the waiting row over
    assert receiver.ids() == [slow.id, waiting.id]  # recorded on arrival, before the wait
    for delivery in (slow, waiting):
        row = outbox_row(session, delivery.id)
        assert (row.status, row.locked_until) == ("sent", None)
