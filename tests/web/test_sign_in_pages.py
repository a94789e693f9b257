"""Password sign-in over HTTP: Argon2id at rest, the CSRF token of the signed-out forms, failed
attempts throttled, the cookie's flags, token sign-in off outside the emulator, and "forgot
password": a one-time, expiring link mailed through the outbox (captured without a relay, sent
to a real SMTP relay with one, and then scrubbed from the database)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import message_from_bytes
from email.policy import default

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.app import create_app
from missive_server.clock import FrozenClock
from missive_server.db.models import OutboxItem, User
from missive_server.services.directory import passwords
from missive_server.settings import Settings
from missive_server.web.throttle import PER_ADDRESS
from tests.delivery.mail_support import Relay, running
from tests.factories import Factory
from tests.web.support import form_csrf, post_sign_in

PASSWORD = "correct horse battery"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The defaults of a real deployment: no token sign-in outside the emulator.
    return settings.model_copy(update={"web_token_sign_in": None})


@dataclass
class World:
    alice: User
    token: str


@pytest.fixture
def world(factory: Factory, session: Session) -> World:
    org = factory.organization("Acme")
    alice = factory.user("alice@acme.test", organizations={org: "owner"})
    passwords.set_password(user=alice, password=PASSWORD)
    session.commit()
    return World(alice, factory.token(alice))


def test_password_is_stored_as_argon2id(world: World, session: Session) -> None:
    session.refresh(world.alice)
    assert world.alice.password_hash is not None
    assert world.alice.password_hash.startswith("$argon2id$")
    assert PASSWORD not in world.alice.password_hash


def test_sign_in_with_email_and_password(client: TestClient, world: World) -> None:
    page = client.get("/sign-in")
    assert 'name="password"' in page.text
    assert 'href="/forgot-password"' in page.text
    assert 'name="token"' not in page.text  # token sign-in is off outside the emulator
    done = post_sign_in(client, email="Alice@Acme.test", password=PASSWORD)
    assert done.status_code == 303
    cookie = done.headers["set-cookie"].lower()
    assert "missive_session=" in cookie
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "secure" not in cookie  # served over http
    assert "Alice" in client.get("/").text


@pytest.mark.parametrize(
    ("email", "password"),
    [("alice@acme.test", "wrong password"), ("nobody@acme.test", PASSWORD), ("", "")],
)
def test_wrong_password_or_unknown_address_is_one_answer(
    client: TestClient, world: World, email: str, password: str
) -> None:
    bad = post_sign_in(client, email=email, password=password)
    assert bad.status_code == 401
    assert "Wrong email or password." in bad.text
    assert "missive_session" not in bad.headers.get("set-cookie", "")


def test_a_token_is_not_a_password_outside_the_emulator(client: TestClient, world: World) -> None:
    assert post_sign_in(client, token=world.token).status_code == 401


@pytest.mark.parametrize("csrf", [None, "forged"])
def test_sign_in_needs_the_forms_csrf_token(
    client: TestClient, world: World, csrf: str | None
) -> None:
    client.get("/sign-in")  # the browser has the form cookie; the attacker's page lacks its value
    data = {"email": "alice@acme.test", "password": PASSWORD} | ({"csrf": csrf} if csrf else {})
    refused = client.post("/sign-in", data=data, follow_redirects=False)
    assert refused.status_code == 403
    assert "missive_session" not in refused.headers.get("set-cookie", "")
    assert client.get("/", follow_redirects=False).status_code == 303


def test_secure_cookie_behind_https(
    settings: Settings, clock: FrozenClock, engine: Engine, world: World
) -> None:
    https = settings.model_copy(update={"public_url": "https://inbox.acme.test"})
    app = create_app(https, clock=clock, engine=engine)
    with TestClient(app, base_url="https://inbox.acme.test") as client:
        done = post_sign_in(client, email="alice@acme.test", password=PASSWORD)
        assert done.status_code == 303
        assert "secure" in done.headers["set-cookie"].lower()


def test_failed_sign_ins_are_limited_per_address(client: TestClient, world: World) -> None:
    for _ in range(PER_ADDRESS.amount):
        assert post_sign_in(client, email="alice@acme.test", password="nope").status_code == 401
    limited = post_sign_in(client, email="alice@acme.test", password=PASSWORD)
    assert limited.status_code == 429
    assert "Too many failed sign-ins" in limited.text
    assert int(limited.headers["retry-after"]) > 0
    assert "missive_session" not in limited.headers.get("set-cookie", "")


def test_a_success_clears_the_address_count(client: TestClient, world: World) -> None:
    for _ in range(PER_ADDRESS.amount - 1):
        post_sign_in(client, email="alice@acme.test", password="nope")
    assert post_sign_in(client, email="alice@acme.test", password=PASSWORD).status_code == 303
    for _ in range(PER_ADDRESS.amount - 1):
        post_sign_in(client, email="alice@acme.test", password="nope")
    assert post_sign_in(client, email="alice@acme.test", password=PASSWORD).status_code == 303


def forgot(client: TestClient, email: str) -> str:
    csrf = form_csrf(client, "/forgot-password")
    answer = client.post("/forgot-password", data={"csrf": csrf, "email": email})
    assert answer.status_code == 200
    return answer.text


def reset(client: TestClient, secret: str, password: str, confirm: str | None = None) -> object:
    csrf = form_csrf(client, "/reset-password")
    data = {"csrf": csrf, "secret": secret, "password": password, "confirm": confirm or password}
    return client.post("/reset-password", data=data, follow_redirects=False)


def mailed_link(app_client: TestClient, session: Session) -> tuple[OutboxItem, str]:
    app_client.app.state.worker.run_once()  # type: ignore[attr-defined]
    item = session.scalar(select(OutboxItem).where(OutboxItem.kind == "password_reset"))
    assert item is not None
    session.refresh(item)
    assert item.status == "sent"
    assert item.raw is not None
    mail = message_from_bytes(item.raw, policy=default)
    assert mail["To"] == "Alice <alice@acme.test>"
    found = re.search(r"http://testserver/reset-password#(\S+)", mail.get_content())
    assert found, mail.get_content()
    return item, found.group(1)


def test_forgot_password_mails_a_one_time_link(
    client: TestClient, world: World, session: Session
) -> None:
    assert "a link to choose a new password is on its way" in forgot(client, "alice@acme.test")
    item, secret = mailed_link(client, session)
    assert item.captured  # no relay configured: kept in the outbox for the developer
    done = reset(client, secret, "a brand new password")
    assert done.status_code == 303  # type: ignore[attr-defined]
    assert "Password+changed" in done.headers["location"]  # type: ignore[attr-defined]
    assert post_sign_in(client, email="alice@acme.test", password=PASSWORD).status_code == 401
    fresh = post_sign_in(client, email="alice@acme.test", password="a brand new password")
    assert fresh.status_code == 303
    again = reset(client, secret, "yet another password")
    assert again.status_code == 400  # type: ignore[attr-defined]
    assert "invalid, used or expired" in again.text  # type: ignore[attr-defined]


def test_reset_link_expires(
    client: TestClient, world: World, session: Session, clock: FrozenClock
) -> None:
    forgot(client, "alice@acme.test")
    _, secret = mailed_link(client, session)
    clock.advance(passwords.RESET_SECONDS)
    assert reset(client, secret, "a brand new password").status_code == 400  # type: ignore[attr-defined]
    assert post_sign_in(client, email="alice@acme.test", password=PASSWORD).status_code == 303


def test_forgot_password_answers_the_same_for_an_unknown_address(
    client: TestClient, world: World, session: Session
) -> None:
    known = forgot(client, "alice@acme.test")
    unknown = forgot(client, "nobody@acme.test")
    assert re.sub(r'value="[^"]*"', "", known) == re.sub(r'value="[^"]*"', "", unknown)
    kinds = session.scalars(select(OutboxItem.kind)).all()
    assert kinds == ["password_reset"]


@pytest.mark.parametrize(
    ("password", "confirm", "message"),
    [("short", "short", "at least 8 characters"), ("long enough 1", "long enough 2", "differ")],
)
def test_reset_rejects_a_bad_password_and_keeps_the_link(
    client: TestClient, world: World, session: Session, password: str, confirm: str, message: str
) -> None:
    forgot(client, "alice@acme.test")
    _, secret = mailed_link(client, session)
    bad = reset(client, secret, password, confirm)
    assert bad.status_code == 400  # type: ignore[attr-defined]
    assert message in bad.text  # type: ignore[attr-defined]
    assert reset(client, secret, "a good new password").status_code == 303  # type: ignore[attr-defined]


def test_reset_and_forgot_forms_need_their_csrf_token(
    client: TestClient, world: World, session: Session
) -> None:
    client.get("/forgot-password")
    refused = client.post("/forgot-password", data={"email": "alice@acme.test"})
    assert refused.status_code == 403
    assert session.scalars(select(OutboxItem)).all() == []
    forgot(client, "alice@acme.test")
    _, secret = mailed_link(client, session)
    forged = client.post(
        "/reset-password",
        data={"csrf": "forged", "secret": secret, "password": "x" * 10, "confirm": "x" * 10},
    )
    assert forged.status_code == 403
    assert post_sign_in(client, email="alice@acme.test", password=PASSWORD).status_code == 303


def test_reset_mail_through_a_relay_leaves_no_link_behind(
    settings: Settings, clock: FrozenClock, engine: Engine, world: World, session: Session
) -> None:
    with running(Relay()) as relay:
        relayed = settings.model_copy(update={"smtp_url": relay.url, "mail_from": "it@acme.test"})
        with TestClient(create_app(relayed, clock=clock, engine=engine)) as client:
            forgot(client, "alice@acme.test")
            client.app.state.worker.run_once()  # type: ignore[attr-defined]
    assert len(relay.received) == 1
    received = relay.received[0]
    assert received.rcpt_tos == ["alice@acme.test"]
    assert received.mail_from == "it@acme.test"
    secret = re.search(rb"reset-password#(\S+)", received.content)
    assert secret is not None
    item = session.scalar(select(OutboxItem).where(OutboxItem.kind == "password_reset"))
    assert item is not None
    session.refresh(item)
    assert (item.status, item.captured, item.raw) == ("sent", False, None)
    assert secret.group(1).decode() not in str(item.payload)
