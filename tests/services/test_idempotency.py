"""``services.idempotency`` on both databases, each request in its own session as separate
processes would have: leases, takeovers, and a completion that lost its reservation."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.orm import Session, sessionmaker

from missive_server.services import idempotency
from missive_server.services.idempotency import Answer, Fingerprint, KeyScope
from tests.factories import Factory

T0 = 1_700_000_000
TTL, LEASE = 86_400, 30
PRINT = Fingerprint.of("POST", "/v1/posts", b'{"posts": {}}')
ANSWER = Answer(201, [("content-type", "application/json")], b'{"posts":{"id":"p"}}')


@pytest.fixture
def scope(factory: Factory) -> KeyScope:
    return KeyScope(factory.user().id, "key-1")


@pytest.fixture
def reserve(app) -> Callable[..., idempotency.Outcome]:  # type: ignore[no-untyped-def]
    factory: sessionmaker[Session] = app.state.session_factory

    def run(scope: KeyScope, *, now: int, fingerprint: Fingerprint = PRINT) -> idempotency.Outcome:
        with factory() as session:
            outcome = idempotency.reserve(
                session, scope, fingerprint, now=now, ttl=TTL, lease=LEASE
            )
            session.commit()
            return outcome

    return run


def test_a_reservation_is_seen_by_other_sessions_until_its_lease_ends(
    reserve: Callable[..., idempotency.Outcome], scope: KeyScope
) -> None:
    first = reserve(scope, now=T0)
    during = reserve(scope, now=T0 + LEASE - 1)
    after = reserve(scope, now=T0 + LEASE)

    assert isinstance(first, idempotency.Reserved)
    assert isinstance(during, idempotency.InFlight)
    assert isinstance(after, idempotency.Reserved)
    assert after.owner != first.owner


def test_a_completion_after_a_takeover_is_refused_and_the_new_owner_completes(
    app,  # type: ignore[no-untyped-def]
    reserve: Callable[..., idempotency.Outcome],
    scope: KeyScope,
) -> None:
    slow = reserve(scope, now=T0)
    fresh = reserve(scope, now=T0 + LEASE)
    assert isinstance(slow, idempotency.Reserved)
    assert isinstance(fresh, idempotency.Reserved)

    with app.state.session_factory() as session:
        assert idempotency.complete(session, scope, slow.owner, ANSWER) is False
        assert idempotency.complete(session, scope, fresh.owner, ANSWER) is True
        session.commit()

    replay = reserve(scope, now=T0 + LEASE + 1)
    assert replay == idempotency.Replay(ANSWER)
    other = reserve(scope, now=T0 + 2, fingerprint=Fingerprint.of("PATCH", "/v1/posts", b""))
    assert other == idempotency.Mismatch("was first used for POST /v1/posts")


def test_a_released_key_is_free_and_a_stored_one_is_kept_until_it_expires(
    app,  # type: ignore[no-untyped-def]
    reserve: Callable[..., idempotency.Outcome],
    scope: KeyScope,
) -> None:
    first = reserve(scope, now=T0)
    assert isinstance(first, idempotency.Reserved)
    with app.state.session_factory() as session:
        idempotency.release(session, scope, first.owner)
        session.commit()
    second = reserve(scope, now=T0 + 1)
    assert isinstance(second, idempotency.Reserved)
    with app.state.session_factory() as session:
        assert idempotency.complete(session, scope, second.owner, ANSWER)
        session.commit()
        assert idempotency.purge_expired(session, now=T0 + TTL) == 0
        assert idempotency.purge_expired(session, now=T0 + 1 + TTL) == 1
        session.commit()
    assert isinstance(reserve(scope, now=T0 + 2 + TTL), idempotency.Reserved)


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("k", None),
        ("~" * 255, None),
        ("", "Idempotency-Key must be 1 to 255 characters long"),
        ("é", "Idempotency-Key must contain printable ASCII characters only"),
        ("a\x7f", "Idempotency-Key must contain printable ASCII characters only"),
    ],
)
def test_key_rules(key: str, problem: str | None) -> None:
    assert idempotency.key_problem(key) == problem
