"""The delivery worker: claiming due rows, leases, outcomes, retries, and its thread in the app."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.app import build_worker, create_app
from missive_server.clock import FrozenClock
from missive_server.db.models import Message, OutboxItem
from missive_server.delivery.worker import Delivered, DeliveryError, Worker
from missive_server.services import outbox
from missive_server.services.outbox import LEASE_SECONDS, RetryPolicy
from missive_server.settings import Settings
from tests.delivery.mail_support import T0, World, fresh, make_world, queue_mail
from tests.factories import Factory
from tests.serve_support import wait_until

POLICY = RetryPolicy(max_attempts=3, backoff_seconds=30)


@dataclass
class Recorder:
    """A handler that records its calls; ``outcomes`` scripts them (an exception is raised)."""

    outcomes: list[Exception | Delivered] = field(default_factory=list)
    calls: list[tuple[str, int]] = field(default_factory=list)
    before: Callable[[Session, OutboxItem], None] | None = None
    called: threading.Event = field(default_factory=threading.Event)

    def deliver(self, session: Session, item: OutboxItem, *, now: int) -> Delivered:
        self.calls.append((item.id, now))
        self.called.set()
        if self.before is not None:
            self.before(session, item)
        outcome = self.outcomes.pop(0) if self.outcomes else Delivered()
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def recording_worker(
    app: FastAPI, clock: FrozenClock, recorder: Recorder, **options: Any
) -> Worker:
    return Worker(
        app.state.session_factory,
        clock=clock,
        handlers={"mail": recorder},
        policy=POLICY,
        **options,
    )


@pytest.fixture
def worker(app: FastAPI, clock: FrozenClock, recorder: Recorder) -> Worker:
    return recording_worker(app, clock, recorder)


@pytest.fixture
def world(factory: Factory) -> World:
    return make_world(factory)


def enqueue(session: Session, *, kind: str = "mail", **options: Any) -> OutboxItem:
    item = outbox.enqueue(session, kind=kind, now=T0, policy=POLICY, **options)
    session.commit()
    return item


def state(session: Session, item: OutboxItem) -> tuple[Any, ...]:
    row = fresh(session, item)
    return (row.status, row.attempts, row.next_attempt_at, row.locked_until, row.last_error)


def test_a_due_row_is_delivered_and_its_outcome_recorded(
    session: Session, worker: Worker, recorder: Recorder
) -> None:
    item = enqueue(session)
    recorder.outcomes = [Delivered(raw=b"the bytes", captured=True)]

    assert worker.run_once() == 1

    assert recorder.calls == [(item.id, T0)]
    row = fresh(session, item)
    assert (row.status, row.attempts, row.locked_until, row.sent_at) == ("sent", 1, None, T0)
    assert (row.raw, row.captured, row.last_error) == (b"the bytes", True, None)
    assert worker.run_once() == 0


def test_a_row_waits_until_it_is_due(
    session: Session, worker: Worker, clock: FrozenClock, recorder: Recorder
) -> None:
    enqueue(session, due_at=T0 + 60)

    assert worker.run_once() == 0
    clock.advance(59)
    assert worker.run_once() == 0
    clock.advance(1)
    assert worker.run_once() == 1
    assert [now for _, now in recorder.calls] == [T0 + 60]


def test_a_claim_that_never_finished_is_taken_over_when_its_lease_expires(
    session: Session, worker: Worker, clock: FrozenClock, recorder: Recorder
) -> None:
    item = enqueue(session)
    [claimed] = outbox.claim_due(session, now=T0)  # a worker that died right after claiming
    session.commit()
    assert state(session, claimed) == ("pending", 1, T0, T0 + LEASE_SECONDS, None)

    assert worker.run_once() == 0
    clock.advance(LEASE_SECONDS)
    assert worker.run_once() == 0
    clock.advance(1)
    assert worker.run_once() == 1

    assert recorder.calls == [(item.id, T0 + LEASE_SECONDS + 1)]
    assert state(session, item)[:2] == ("sent", 2)


def test_the_lease_is_the_delivery_lease_seconds_setting(
    app: FastAPI, settings: Settings, session: Session, clock: FrozenClock, recorder: Recorder
) -> None:
    """A server killed mid-pass leaves its claimed rows leased; a shorter lease brings them
    back sooner after a restart (tests/crash kills ``serve`` with a 3-second lease)."""
    enqueue(session)
    short = settings.model_copy(update={"delivery_lease_seconds": 5})
    worker = build_worker(
        short, app.state.session_factory, clock=clock, client=app.state.http_client
    )
    worker.handlers = {"mail": recorder}
    leases: list[int | None] = []
    recorder.before = lambda _session, row: leases.append(row.locked_until)

    assert worker.run_once() == 1

    assert leases == [T0 + 5]


def test_a_short_lease_of_a_dead_worker_is_taken_over_when_it_expires(
    app: FastAPI, session: Session, clock: FrozenClock, recorder: Recorder
) -> None:
    item = enqueue(session)
    outbox.claim_due(session, now=T0, lease_seconds=5)  # a server killed right after claiming
    session.commit()
    restarted = recording_worker(app, clock, recorder, lease_seconds=5)

    clock.advance(5)
    assert restarted.run_once() == 0
    clock.advance(1)
    assert restarted.run_once() == 1

    assert recorder.calls == [(item.id, T0 + 6)]
    assert state(session, item)[:2] == ("sent", 2)


def test_a_kind_without_a_handler_fails_permanently(
    session: Session, worker: Worker, clock: FrozenClock
) -> None:
    item = enqueue(session, kind="pigeon")

    assert worker.run_once() == 1

    assert state(session, item) == ("failed", 1, T0, None, "no handler for outbox kind 'pigeon'")
    clock.advance(100_000)
    assert worker.run_once() == 0


def test_an_unexpected_error_is_retried_like_a_transient_failure(
    session: Session, worker: Worker, clock: FrozenClock, recorder: Recorder, world: World
) -> None:
    queued = queue_mail(session, world.conversation, T0, inline=None)
    recorder.outcomes = [RuntimeError("boom")]

    assert worker.run_once() == 1
    assert state(session, queued.item) == ("pending", 1, T0 + 30, None, "RuntimeError: boom")
    message = fresh(session, queued.message)
    assert (message.delivery_status, message.delivery_error) == ("queued", "RuntimeError: boom")

    clock.advance(30)
    assert worker.run_once() == 1
    assert state(session, queued.item) == ("sent", 2, T0 + 30, None, None)
    message = fresh(session, queued.message)
    assert (message.delivery_status, message.delivery_error) == ("sent", None)


def test_a_permanent_delivery_error_fails_at_once(
    session: Session, worker: Worker, recorder: Recorder
) -> None:
    item = enqueue(session)
    recorder.outcomes = [DeliveryError("550 no such mailbox", permanent=True)]

    worker.run_once()

    assert state(session, item) == ("failed", 1, T0, None, "550 no such mailbox")


def test_retries_back_off_exponentially_until_the_last_attempt(
    session: Session, worker: Worker, clock: FrozenClock, recorder: Recorder
) -> None:
    item = enqueue(session)
    recorder.outcomes = [DeliveryError("451 later")] * 3

    seen = []
    for delay in (0, 30, 60):
        clock.advance(delay)
        assert worker.run_once() == 1
        seen.append(state(session, item))

    assert seen == [
        ("pending", 1, T0 + 30, None, "451 later"),
        ("pending", 2, T0 + 90, None, "451 later"),
        ("failed", 3, T0 + 90, None, "451 later"),
    ]


def test_a_failed_attempt_rolls_back_what_the_handler_wrote(
    session: Session, worker: Worker, clock: FrozenClock, recorder: Recorder, world: World
) -> None:
    queued = queue_mail(session, world.conversation, T0, inline=None)

    def rename(db: Session, item: OutboxItem) -> None:
        message = db.get(Message, item.message_id)
        assert message is not None
        message.subject = f"written by attempt {item.attempts}"

    recorder.before = rename
    recorder.outcomes = [DeliveryError("451 later")]

    worker.run_once()
    assert fresh(session, queued.message).subject == "Re: Ünïcode ✓ subject"
    clock.advance(30)
    worker.run_once()
    assert fresh(session, queued.message).subject == "written by attempt 2"


def test_cancelled_rows_are_not_delivered(
    session: Session, worker: Worker, world: World, recorder: Recorder
) -> None:
    queued = queue_mail(session, world.conversation, T0, inline=None)
    outbox.cancel_pending(session, now=T0, message_ids=[queued.message.id])
    session.commit()

    assert worker.run_once() == 0
    assert recorder.calls == []


def test_one_pass_drains_every_batch(
    app: FastAPI, session: Session, clock: FrozenClock, recorder: Recorder
) -> None:
    items = [enqueue(session) for _ in range(5)]
    small = recording_worker(app, clock, recorder, batch_size=2)

    assert small.run_once() == 5
    assert sorted(item_id for item_id, _ in recorder.calls) == sorted(i.id for i in items)


def test_run_forever_delivers_until_stopped(
    session: Session, worker: Worker, recorder: Recorder
) -> None:
    enqueue(session)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run_forever, args=(stop, 0.01), daemon=True)

    thread.start()
    assert recorder.called.wait(10)
    stop.set()
    thread.join(10)

    assert not thread.is_alive()
    assert len(recorder.calls) == 1


def worker_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "missive-delivery-worker"]


def test_the_app_runs_the_worker_in_a_thread_while_it_serves(
    settings: Settings, clock: FrozenClock, engine: Engine, session: Session, world: World
) -> None:
    serving = settings.model_copy(update={"run_worker": True, "worker_poll_seconds": 0.02})
    app = create_app(serving, clock=clock, engine=engine)
    queued = queue_mail(session, world.conversation, T0, inline=None)

    for _ in range(2):  # a second start of the same app works as well
        with TestClient(app):
            assert len(worker_threads()) == 1
            wait_until(
                lambda item=queued.item: fresh(session, item).status == "sent",
                10,
                "the worker thread sent nothing",
            )
        assert worker_threads() == []
        assert app.state.http_client.is_closed
        queued = queue_mail(session, world.conversation, T0, inline=None)

    assert fresh(session, queued.item).status == "pending"


def test_without_run_worker_no_thread_starts(client: TestClient, app: FastAPI) -> None:
    assert worker_threads() == []
    assert isinstance(app.state.worker, Worker)


def test_a_kind_with_its_own_policy_leaves_the_others_on_the_global_one(
    app: FastAPI, session: Session, clock: FrozenClock, recorder: Recorder
) -> None:
    own = RetryPolicy(max_attempts=2, backoff_seconds=5)
    worker = Worker(
        app.state.session_factory,
        clock=clock,
        handlers={"mail": recorder, "webhook": recorder},
        policy=POLICY,
        policies={"webhook": own},
    )
    mail, hook = enqueue(session), enqueue(session, kind="webhook")  # both queued with POLICY
    recorder.outcomes = [DeliveryError("down"), DeliveryError("down")]
    worker.run_once()
    assert (fresh(session, mail).next_attempt_at, fresh(session, mail).max_attempts) == (T0 + 30, 3)
    assert (fresh(session, hook).next_attempt_at, fresh(session, hook).max_attempts) == (T0 + 5, 2)


def test_a_failure_record_commits_with_the_failure(
    session: Session, worker: Worker, recorder: Recorder
) -> None:
    """What the handler wrote is rolled back; what its error's ``record`` writes is kept."""
    item = enqueue(session)
    seen: list[str] = []

    def record(db: Session, row: OutboxItem) -> None:
        seen.append(row.status)
        db.add(OutboxItem(**{**_row_fields(row), "id": "kept-by-record", "kind": "note"}))

    recorder.before = lambda db, row: setattr(row, "payload", {"lost": True})
    recorder.outcomes = [DeliveryError("refused", permanent=True, record=record)]
    worker.run_once()
    assert seen == ["failed"]  # it runs after the outcome was recorded
    assert fresh(session, item).payload == {}
    assert session.get(OutboxItem, "kept-by-record") is not None


def _row_fields(row: OutboxItem) -> dict[str, Any]:
    names = ("status", "payload", "attempts", "max_attempts", "next_attempt_at", "captured")
    return {name: getattr(row, name) for name in names} | {
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }
