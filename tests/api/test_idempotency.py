"""``Idempotency-Key`` on /v1 writes (issue 14): replay, mismatch, in-flight, failures, scope."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.clock import FrozenClock
from missive_server.db.models import Conversation, IdempotencyKey, OutboxItem, Post
from missive_server.services import idempotency
from missive_server.services.idempotency import Fingerprint, KeyScope
from tests.conftest import bearer
from tests.factories import UNKNOWN_ID, Factory

NOTE = {"title": "A title", "body": "A body"}
BODY = {"posts": {"notification": NOTE, "text": "Hello", "conversation_subject": "Idem"}}


@pytest.fixture
def org_and_token(factory: Factory) -> tuple[Any, str, str]:
    org = factory.organization("Acme")
    alice, token = factory.member(org, "admin", email="alice@acme.test")
    return org, token, alice.id


@pytest.fixture
def token(org_and_token: tuple[Any, str, str]) -> str:
    return org_and_token[1]


def keyed(token: str, key: str) -> dict[str, str]:
    return {**bearer(token), "Idempotency-Key": key}


def count(session: Session, model: Any) -> int:
    session.expire_all()
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_repeat_replays_the_stored_answer_byte_for_byte_and_creates_nothing(
    client: TestClient, session: Session, token: str
) -> None:
    first = client.post("/v1/posts", json=BODY, headers=keyed(token, "post-1"))
    rows = (count(session, Post), count(session, Conversation), count(session, OutboxItem))

    again = client.post("/v1/posts", json=BODY, headers=keyed(token, "post-1"))

    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    assert again.status_code == 201
    assert again.content == first.content
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["content-type"] == first.headers["content-type"] == "application/json"
    assert (count(session, Post), count(session, Conversation)) == (1, 1)
    assert (count(session, Post), count(session, Conversation), count(session, OutboxItem)) == rows
    # Without the key the same body is a new write, as in Missive.
    third = client.post("/v1/posts", json=BODY, headers=bearer(token))
    assert third.status_code == 201
    assert third.json()["posts"]["id"] != first.json()["posts"]["id"]
    assert count(session, Post) == 2


@pytest.mark.parametrize(
    ("method", "path", "body", "message"),
    [
        ("POST", "/v1/posts", {"posts": {**BODY["posts"], "text": "Other"}}, "body"),
        ("POST", "/v1/drafts", BODY, "POST /v1/posts"),
        ("DELETE", f"/v1/posts/{UNKNOWN_ID}", None, "POST /v1/posts"),
    ],
    ids=["other-body", "other-path", "other-method"],
)
def test_the_same_key_for_another_request_is_a_422(
    client: TestClient,
    session: Session,
    token: str,
    method: str,
    path: str,
    body: Any,
    message: str,
) -> None:
    assert client.post("/v1/posts", json=BODY, headers=keyed(token, "k")).status_code == 201

    response = client.request(method, path, json=body, headers=keyed(token, "k"))

    assert response.status_code == 422
    text = response.json()["error"]["message"]
    assert response.json() == {"error": {"message": text}}
    assert text.startswith("This Idempotency-Key was first used ")
    assert message in text
    assert count(session, Post) == 1


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ([""], "Idempotency-Key must be 1 to 255 characters long"),
        (["k" * 256], "Idempotency-Key must be 1 to 255 characters long"),
        (["caf\xe9"], "Idempotency-Key must contain printable ASCII characters only"),
        (["a\tb"], "Idempotency-Key must contain printable ASCII characters only"),
        (["a", "b"], "Idempotency-Key must be given once"),
    ],
    ids=["empty", "too-long", "latin-1", "tab", "twice"],
)
def test_a_malformed_key_is_a_400_and_writes_nothing(
    client: TestClient, session: Session, token: str, keys: list[str], message: str
) -> None:
    headers = [("authorization", f"Bearer {token}"), ("content-type", "application/json")]
    headers += [("idempotency-key", k) for k in keys]
    response = client.post(
        "/v1/posts",
        content=b'{"posts": {"notification": {"title": "t", "body": "b"}, "text": "x"}}',
        headers=[(n.encode(), v.encode("latin-1")) for n, v in headers],  # type: ignore[arg-type]
    )

    assert response.status_code == 400
    assert response.json() == {"error": {"message": message}}
    assert count(session, Post) == 0
    assert count(session, IdempotencyKey) == 0


def test_the_longest_key_and_any_printable_ascii_are_accepted(
    client: TestClient, token: str
) -> None:
    for key in ("k" * 255, " !\"#$%&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~"):
        response = client.post("/v1/posts", json=BODY, headers=keyed(token, key))
        assert response.status_code == 201, (key, response.text)


def test_client_errors_are_stored_and_replayed(
    client: TestClient, session: Session, token: str
) -> None:
    unknown = {"posts": {**BODY["posts"], "conversation": UNKNOWN_ID}}
    invalid: dict[str, Any] = {"posts": {"text": "no notification"}}

    for key, body in (("unknown", unknown), ("invalid", invalid)):
        first = client.post("/v1/posts", json=body, headers=keyed(token, key))
        again = client.post("/v1/posts", json=body, headers=keyed(token, key))
        assert first.status_code in (400, 404), first.text
        assert again.status_code == first.status_code
        assert again.content == first.content
        assert again.headers["Idempotent-Replayed"] == "true"
    assert count(session, Post) == 0
    assert count(session, IdempotencyKey) == 2


def test_keys_belong_to_the_token_user(
    client: TestClient, factory: Factory, session: Session, org_and_token: tuple[Any, str, str]
) -> None:
    org, token, _ = org_and_token
    _, other_token = factory.member(org, "admin", email="bob@acme.test")

    mine = client.post("/v1/posts", json=BODY, headers=keyed(token, "shared"))
    theirs = client.post("/v1/posts", json=BODY, headers=keyed(other_token, "shared"))

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert "idempotent-replayed" not in theirs.headers
    assert mine.json() != theirs.json()
    assert count(session, Post) == 2


def test_an_anonymous_or_unknown_token_gets_401_and_no_key_is_kept(
    client: TestClient, session: Session
) -> None:
    for headers in ({"Idempotency-Key": "k"}, keyed("missive_pat-nope", "k")):
        response = client.post("/v1/posts", json=BODY, headers=headers)
        assert response.status_code == 401
    assert count(session, IdempotencyKey) == 0


def test_a_keyed_delete_replays_its_answer_instead_of_a_404(
    client: TestClient, session: Session, token: str
) -> None:
    post_id = client.post("/v1/posts", json=BODY, headers=bearer(token)).json()["posts"]["id"]

    first = client.delete(f"/v1/posts/{post_id}", headers=keyed(token, "del"))
    again = client.delete(f"/v1/posts/{post_id}", headers=keyed(token, "del"))
    unkeyed = client.delete(f"/v1/posts/{post_id}", headers=bearer(token))

    assert (first.status_code, first.json()) == (200, {})
    assert (again.status_code, again.content) == (200, first.content)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert unkeyed.status_code == 404


def test_reads_ignore_the_header(client: TestClient, session: Session, token: str) -> None:
    headers = {**bearer(token), "Idempotency-Key": "caf\xe9".encode("latin-1")}
    response = client.get("/v1/organizations", headers=headers)  # type: ignore[arg-type]

    assert response.status_code == 200
    assert count(session, IdempotencyKey) == 0


def test_a_request_still_in_progress_elsewhere_gets_409_until_its_lease_ends(
    app: FastAPI, client: TestClient, clock: FrozenClock, org_and_token: tuple[Any, str, str]
) -> None:
    """The reservation another process holds is a committed row: any process sees it."""
    _, token, user_id = org_and_token
    raw = b'{"posts":{"notification":{"title":"t","body":"b"},"text":"x"}}'
    lease = app.state.settings.idempotency_lease_seconds
    with app.state.session_factory() as other:
        outcome = idempotency.reserve(
            other,
            KeyScope(user_id, "busy"),
            Fingerprint.of("POST", "/v1/posts", raw),
            now=clock.now(),
            ttl=86_400,
            lease=lease,
        )
        other.commit()
    assert isinstance(outcome, idempotency.Reserved)
    headers = {**keyed(token, "busy"), "content-type": "application/json"}

    busy = client.post("/v1/posts", content=raw, headers=headers)
    clock.advance(lease)  # the holder died: its lease is over
    taken_over = client.post("/v1/posts", content=raw, headers=headers)
    replayed = client.post("/v1/posts", content=raw, headers=headers)

    assert busy.status_code == 409
    in_progress = "A request with this Idempotency-Key is still in progress; retry later"
    assert busy.json() == {"error": {"message": in_progress}}
    assert 1 <= int(busy.headers["Retry-After"]) <= 5
    assert taken_over.status_code == 201
    assert "idempotent-replayed" not in taken_over.headers
    assert (replayed.status_code, replayed.content) == (201, taken_over.content)


def test_a_server_error_stores_nothing_and_a_retry_runs_the_write(
    app: FastAPI, client: TestClient, session: Session, token: str
) -> None:
    """Writing the post fails once (an exception raised from SQLAlchemy's ``before_flush``
    hook, where a lost connection or a failed constraint would surface): 500, no post, no
    key; the retry with the same key writes it once."""
    failures = [RuntimeError("the database went away")]

    def fail_once(db: Session) -> None:
        if failures and any(isinstance(o, Post) for o in db.new):
            raise failures.pop()

    factory = app.state.session_factory
    event.listen(factory, "before_flush", lambda db, *_: fail_once(db))
    no_raise = TestClient(app, raise_server_exceptions=False)

    failed = no_raise.post("/v1/posts", json=BODY, headers=keyed(token, "retry-me"))
    assert failed.status_code == 500
    assert failed.json() == {"error": {"message": "Internal server error"}}
    assert (count(session, Post), count(session, IdempotencyKey)) == (0, 0)

    retried = client.post("/v1/posts", json=BODY, headers=keyed(token, "retry-me"))
    assert retried.status_code == 201
    assert "idempotent-replayed" not in retried.headers
    assert count(session, Post) == 1


def test_every_write_operation_documents_the_header_and_no_read_does(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    writes = 0
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "header"]
            is_write = path.startswith("/v1/") and method in ("post", "patch", "delete")
            assert ("Idempotency-Key" in names) == is_write, (method, path)
            if is_write:
                writes += 1
                parameter = next(
                    p for p in operation["parameters"] if p["name"] == "Idempotency-Key"
                )
                assert parameter["required"] is False
                assert parameter["schema"]["maxLength"] == 255
                for status in ("409", "422"):
                    assert operation["responses"][status]["content"]["application/json"][
                        "schema"
                    ] == {"$ref": "#/components/schemas/ErrorEnvelope"}
    assert writes >= 20
