"""Rule webhook delivery over real HTTP on loopback: the bytes and headers a receiver gets,
the schedules, the attempt log, redirects, timeouts, deleted and disabled hooks."""

from __future__ import annotations

import orjson
import pytest
from dirty_equals import IsInt
from fastapi import FastAPI
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from missive_server import __version__
from missive_server.clock import FrozenClock
from missive_server.db.models import Hook, WebhookAttempt
from missive_server.delivery.signing import verify, verify_standard
from missive_server.delivery.worker import Worker
from missive_server.services.hooks.hook_deliveries import EXTENDED_SCHEDULE, MISSIVE_SCHEDULE
from tests.delivery.webhook_receiver import HANG, Request, WebhookReceiver, receiver
from tests.delivery.webhook_support import (
    SECRET,
    T0,
    WorkerFactory,
    fresh_hook,
    hook,
    http_client,
    make_hook,
    make_worker,
    outbox_row,
    payload,
    queue,
    worker,
)
from tests.factories import Factory

__all__ = ["hook", "http_client", "make_worker", "receiver", "worker"]  # fixtures


def attempts(session: Session, delivery_id: str) -> list[tuple[int, int | None, str | None]]:
    rows = session.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id == delivery_id)
        .order_by(WebhookAttempt.attempted_at)
    )
    return [(a.attempted_at, a.status_code, a.error) for a in rows]


def test_the_receiver_gets_the_exact_bytes_signed_both_ways(
    session: Session, worker: Worker, receiver: WebhookReceiver, hook: Hook, clock: FrozenClock
) -> None:
    delivery = queue(session, hook)
    clock.advance(3)
    assert worker.run_once() == 1

    [request] = receiver.requests
    assert request.method == "POST"
    assert request.path == "/hooks/missive?token=abc"
    assert request.body == orjson.dumps(payload()) == outbox_row(session, delivery.id).raw
    assert orjson.loads(request.body) == payload()
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == f"missive-server/{__version__}"
    assert request.headers["webhook-id"] == delivery.id
    assert request.headers["webhook-timestamp"] == str(T0 + 3)
    assert request.headers["x-hook-signature"].startswith("sha256=")
    assert verify(SECRET, request.body, request.headers["x-hook-signature"])
    assert request.headers["webhook-signature"].startswith("v1,")
    assert verify_standard(
        SECRET,
        msg_id=delivery.id,
        timestamp=T0 + 3,
        body=request.body,
        signature=request.headers["webhook-signature"],
    )
    row = outbox_row(session, delivery.id)
    assert (row.status, row.sent_at, row.last_error) == ("sent", T0 + 3, None)
    [attempt] = session.scalars(select(WebhookAttempt)).all()
    assert (attempt.attempted_at, attempt.status_code, attempt.error) == (T0 + 3, 200, None)
    assert attempt.latency_ms == IsInt(ge=0)


def test_a_whsec_secret_signs_with_its_decoded_key(
    session: Session, worker: Worker, receiver: WebhookReceiver, factory: Factory
) -> None:
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    hook = make_hook(session, user=factory.user(), url=receiver.url(), secret=secret)
    delivery = queue(session, hook)
    worker.run_once()
    [request] = receiver.requests
    headers = request.headers
    assert verify_standard(
        secret,
        msg_id=delivery.id,
        timestamp=T0,
        body=request.body,
        signature=headers["webhook-signature"],
    )
    assert verify(secret, request.body, headers["x-hook-signature"])  # spec 3.2: the UTF-8 key


def test_missive_schedule_five_retries_over_about_eight_minutes(
    session: Session, worker: Worker, receiver: WebhookReceiver, hook: Hook, clock: FrozenClock
) -> None:
    receiver.default = 503
    delivery = queue(session, hook)
    seen_at = []
    for _ in range(600):  # every second of the ten minutes after queueing
        if worker.run_once():
            seen_at.append(clock.now() - T0)
        clock.advance(1)
    assert seen_at == [0, 15, 45, 105, 225, 465]
    assert [r.headers["webhook-id"] for r in receiver.requests] == [delivery.id] * 6
    timestamps = [int(r.headers["webhook-timestamp"]) - T0 for r in receiver.requests]
    assert timestamps == seen_at  # each retry is signed with its own time
    error = f"http://127.0.0.1:{receiver.port}/hooks/missive answered 503 Service Unavailable"
    assert attempts(session, delivery.id) == [(T0 + s, 503, error) for s in seen_at]
    row = outbox_row(session, delivery.id)
    assert (row.status, row.attempts, row.last_error) == ("failed", 6, error)
    assert fresh_hook(session, hook.id).consecutive_failures == 6


def test_a_success_resets_the_failure_count(
    session: Session, worker: Worker, receiver: WebhookReceiver, hook: Hook, clock: FrozenClock
) -> None:
    receiver.answers = [500, 404]
    delivery = queue(session, hook)
    worker.run_once()
    clock.advance(15)
    worker.run_once()
    assert fresh_hook(session, hook.id).consecutive_failures == 2
    clock.advance(30)
    worker.run_once()
    assert [a[1] for a in attempts(session, delivery.id)] == [500, 404, 200]
    assert outbox_row(session, delivery.id).status == "sent"
    assert fresh_hook(session, hook.id).consecutive_failures == 0


def test_extended_schedule_doubles_to_an_hour_and_lasts_about_three_days() -> None:
    delays = [EXTENDED_SCHEDULE.delay(n) for n in range(1, EXTENDED_SCHEDULE.max_attempts)]
    assert delays[:8] == [60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert set(delays[6:]) == {3600}
    last_retry = sum(delays)
    assert 71 * 3600 < last_retry < 73 * 3600
    assert sum(MISSIVE_SCHEDULE.delay(n) for n in range(1, 6)) == 465


def test_the_extended_setting_applies_to_deliveries_already_queued(
    make_worker: WorkerFactory,
    session: Session,
    receiver: WebhookReceiver,
    hook: Hook,
    clock: FrozenClock,
) -> None:
    delivery = queue(session, hook)  # queued with Missive's schedule (max_attempts 6)
    worker = make_worker(webhook_retry_schedule="extended")
    receiver.default = 500
    offsets = []
    for _ in range(9):
        clock.set(outbox_row(session, delivery.id).next_attempt_at)
        assert worker.run_once() == 1
        offsets.append(clock.now() - T0)
    assert offsets == [0, 60, 180, 420, 900, 1860, 3780, 7380, 10980]
    row = outbox_row(session, delivery.id)
    assert (row.status, row.attempts, row.max_attempts) == ("pending", 9, 78)


def test_redirects_are_not_followed_and_count_as_failures(
    session: Session, worker: Worker, receiver: WebhookReceiver, hook: Hook
) -> None:
    receiver.answers = [301]
    delivery = queue(session, hook)
    worker.run_once()
    assert [r.path for r in receiver.requests] == ["/hooks/missive?token=abc"]
    target = f"http://127.0.0.1:{receiver.port}/hooks/missive"
    error = f"{target} answered 301 Moved Permanently (redirects are not followed)"
    assert attempts(session, delivery.id) == [(T0, 301, error)]
    row = outbox_row(session, delivery.id)
    assert (row.status, row.next_attempt_at) == ("pending", T0 + 15)


def test_a_receiver_slower_than_the_timeout_is_a_failed_attempt(
    make_worker: WorkerFactory, session: Session, receiver: WebhookReceiver, hook: Hook
) -> None:
    worker = make_worker(webhook_timeout_seconds=0.2)
    receiver.answers = [HANG]
    delivery = queue(session, hook)
    worker.run_once()
    target = f"http://127.0.0.1:{receiver.port}/hooks/missive"
    [attempt] = session.scalars(select(WebhookAttempt)).all()
    assert (attempt.status_code, attempt.error) == (None, f"{target}: no answer within 0.2 s")
    assert attempt.latency_ms == IsInt(ge=150, le=5000)
    assert outbox_row(session, delivery.id).status == "pending"
    assert fresh_hook(session, hook.id).consecutive_failures == 1


def test_a_receiver_that_is_down_gets_everything_once_it_is_back(
    session: Session, worker: Worker, receiver: WebhookReceiver, hook: Hook, clock: FrozenClock
) -> None:
    receiver.stop()
    deliveries = [queue(session, hook, n=n) for n in range(5)]
    assert worker.run_once() == 5
    assert receiver.requests == []
    [(_, status, error)] = attempts(session, deliveries[0].id)
    assert status is None
    assert error is not None
    assert error.startswith(f"http://127.0.0.1:{receiver.port}/hooks/missive: ConnectError: ")
    clock.advance(14)
    assert worker.run_once() == 0  # not before the backoff
    receiver.start()
    clock.advance(1)
    assert worker.run_once() == 5
    assert sorted(receiver.ids()) == sorted(d.id for d in deliveries)
    assert {outbox_row(session, d.id).status for d in deliveries} == {"sent"}
    bodies = {r.headers["webhook-id"]: r.body for r in receiver.requests}
    assert bodies == {d.id: orjson.dumps(payload(n)) for n, d in enumerate(deliveries)}


def test_the_secret_and_signatures_are_never_logged(
    session: Session,
    worker: Worker,
    receiver: WebhookReceiver,
    hook: Hook,
    clock: FrozenClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG")
    receiver.answers = [500]
    queue(session, hook)
    worker.run_once()
    clock.advance(15)
    worker.run_once()
    [first, second] = receiver.requests
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("missive_server")]
    assert any("delivered" in line for line in ours)
    assert not any("token=abc" in line for line in ours)  # a URL's query may hold a token
    text = caplog.text  # every logger, httpx's included, at DEBUG
    for secret in (SECRET, first.headers["x-hook-signature"], second.headers["webhook-signature"]):
        assert secret.removeprefix("v1,").removeprefix("sha256=") not in text


@pytest.mark.parametrize("change", ["deleted", "disabled"])
def test_a_deleted_or_disabled_hook_ends_its_deliveries(
    session: Session, worker: Worker, receiver: WebhookReceiver, hook: Hook, change: str
) -> None:
    delivery = queue(session, hook)
    delivery_id, hook_id = delivery.id, hook.id
    if change == "deleted":
        session.delete(hook)
    else:
        hook.enabled = False
    session.commit()
    worker.run_once()
    assert receiver.requests == []
    row = outbox_row(session, delivery_id)
    expected = {
        "deleted": "the hook of this delivery was deleted",
        "disabled": f"hook '{hook_id}' is disabled",
    }[change]
    assert (row.status, row.attempts, row.last_error) == ("failed", 1, expected)


@pytest.mark.parametrize("answer", [200, 500])
def test_a_hook_deleted_during_its_attempt_is_no_error(
    app: FastAPI,
    session: Session,
    worker: Worker,
    receiver: WebhookReceiver,
    hook: Hook,
    clock: FrozenClock,
    answer: int,
) -> None:
    delivery_id, hook_id = queue(session, hook).id, hook.id

    def delete_the_hook(_: Request) -> None:
        with app.state.session_factory.begin() as other:
            other.execute(delete(Hook).where(Hook.id == hook_id))

    receiver.on_request = delete_the_hook
    receiver.answers = [answer]
    assert worker.run_once() == 1
    assert session.scalars(select(WebhookAttempt)).all() == []  # its log went with the hook
    clock.advance(15)
    worker.run_once()
    row = outbox_row(session, delivery_id)
    expected = (
        ("sent", None) if answer == 200 else ("failed", "the hook of this delivery was deleted")
    )
    assert (row.status, row.last_error) == expected
    assert len(receiver.requests) == 1


def test_an_address_that_is_no_longer_allowed_is_refused_at_delivery(
    session: Session,
    make_worker: WorkerFactory,
    receiver: WebhookReceiver,
    hook: Hook,
    clock: FrozenClock,
) -> None:
    """The URL is checked again before each attempt (DNS may point inside the network by now):
    without the loopback allowance nothing is sent and the delivery fails for good."""
    delivery = queue(session, hook)
    worker = make_worker(webhook_allow_private=[])

    assert worker.run_once() == 1

    assert receiver.requests == []
    row = outbox_row(session, delivery.id)
    assert row.status == "failed"
    assert row.last_error == (
        "'url' is a loopback address (127.0.0.1); set MISSIVE_WEBHOOK_ALLOW_PRIVATE to allow it"
    )
    assert attempts(session, delivery.id) == [(T0, None, row.last_error)]
