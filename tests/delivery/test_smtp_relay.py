"""``MISSIVE_SMTP_URL``: parsing, and real sessions with AUTH, STARTTLS and implicit TLS against
aiosmtpd on loopback (a throwaway certificate made with ``openssl``)."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from missive_server.clock import FrozenClock
from missive_server.delivery.mail import SmtpMailer, SmtpRelay
from missive_server.delivery.worker import DeliveryError
from missive_server.settings import Settings
from tests.delivery.mail_support import (
    T0,
    Relay,
    app_with,
    fresh,
    make_world,
    parse,
    queue_mail,
    running,
)
from tests.factories import Factory

RAW = b"From: a@acme.test\r\nTo: b@example.com\r\nSubject: TLS\r\n\r\nHello\r\n"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://relay.example.com", SmtpRelay("relay.example.com", 25)),
        ("smtp://relay.example.com:2525", SmtpRelay("relay.example.com", 2525)),
        (
            "smtp://me%40acme.test:p%40ss%3Aw%2Frd@relay.example.com?starttls=true",
            SmtpRelay("relay.example.com", 587, "starttls", "me@acme.test", "p@ss:w/rd"),
        ),
        (
            "smtp://user:secret@relay.example.com:2587?starttls=1",
            SmtpRelay("relay.example.com", 2587, "starttls", "user", "secret"),
        ),
        (
            "smtp://relay.example.com?starttls=false",
            SmtpRelay("relay.example.com", 25, "none"),
        ),
        ("smtps://u:p@smtp.example.com", SmtpRelay("smtp.example.com", 465, "tls", "u", "p")),
        ("SMTPS://smtp.example.com:2465", SmtpRelay("smtp.example.com", 2465, "tls")),
    ],
)
def test_smtp_urls_are_parsed(url: str, expected: SmtpRelay) -> None:
    assert SmtpRelay.from_url(url) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://relay.example.com", "MISSIVE_SMTP_URL must start with smtp:// or smtps://"),
        ("relay.example.com:25", "MISSIVE_SMTP_URL must start with smtp:// or smtps://"),
        ("smtp://", "MISSIVE_SMTP_URL has no host"),
        ("smtp://relay?startls=true", "MISSIVE_SMTP_URL: unknown option 'startls=true'"),
        ("smtp://relay?starttls=maybe", "MISSIVE_SMTP_URL: unknown option 'starttls=maybe'"),
        (
            "smtps://relay?starttls=true",
            "MISSIVE_SMTP_URL: smtps:// is already TLS; drop ?starttls=true",
        ),
        ("smtp://relay:99999", "MISSIVE_SMTP_URL: Port out of range 0-65535"),
    ],
)
def test_malformed_smtp_urls_say_what_is_wrong(url: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:  # noqa: PT011  (the exact text is asserted)
        SmtpRelay.from_url(url)
    assert str(raised.value) == message


def test_the_password_is_never_shown() -> None:
    relay = SmtpRelay.from_url("smtp://user:hunter2@relay.example.com")

    assert "hunter2" not in repr(relay)
    assert "hunter2" not in relay.address


def test_a_malformed_url_stops_the_app_at_start(
    settings: Settings, clock: FrozenClock, engine: Engine
) -> None:
    with pytest.raises(ValueError, match="must start with smtp:// or smtps://"):
        app_with(settings, clock, engine, smtp_url="mailto:relay")


#: AUTH without TLS is fine on loopback; aiosmtpd warns about it all the same.
plain_auth = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def login_required(relay: Relay) -> dict[str, Any]:
    return {"auth_required": True, "auth_require_tls": False, "authenticator": relay.authenticate}


@plain_auth
def test_the_relay_login_is_used(
    settings: Settings, clock: FrozenClock, engine: Engine, session: Session, factory: Factory
) -> None:
    relay = Relay(credentials=(b"me@acme.test", b"p@ss:word"))
    with running(
        relay, auth_required=True, auth_require_tls=False, authenticator=relay.authenticate
    ):
        url = f"smtp://me%40acme.test:p%40ss%3Aword@127.0.0.1:{relay.port}"
        app: FastAPI = app_with(settings, clock, engine, smtp_url=url)
        queued = queue_mail(session, make_world(factory).conversation, T0, inline=None)

        app.state.worker.run_once()

    assert relay.logins == [(b"me@acme.test", b"p@ss:word")]
    assert fresh(session, queued.item).status == "sent"
    assert parse(relay.received[0].content)["Message-ID"] == "<out-1@acme.test>"


@plain_auth
def test_a_refused_login_is_retried(
    settings: Settings, clock: FrozenClock, engine: Engine, session: Session, factory: Factory
) -> None:
    relay = Relay(credentials=(b"me", b"right"))
    with running(
        relay, auth_required=True, auth_require_tls=False, authenticator=relay.authenticate
    ):
        app: FastAPI = app_with(
            settings, clock, engine, smtp_url=f"smtp://me:wrong@127.0.0.1:{relay.port}"
        )
        queued = queue_mail(session, make_world(factory).conversation, T0, inline=None)

        app.state.worker.run_once()

    item = fresh(session, queued.item)
    assert (item.status, item.attempts, item.next_attempt_at) == ("pending", 1, T0 + 30)
    assert item.last_error == (
        f"127.0.0.1:{relay.port} refused the login: 535 5.7.8 Authentication credentials invalid"
    )
    assert relay.received == []


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, valid for a day."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def trusting(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[0]))


def test_starttls_then_login(certificate: tuple[Path, Path]) -> None:
    relay = Relay(credentials=(b"me", b"secret"))
    with running(
        relay,
        tls_context=server_context(certificate),
        require_starttls=True,
        auth_required=True,
        authenticator=relay.authenticate,
    ):
        url = f"smtp://me:secret@127.0.0.1:{relay.port}?starttls=true"
        SmtpMailer(url, ssl_context=trusting(certificate)).send(
            "a@acme.test", ["b@example.com"], RAW
        )

    assert relay.logins == [(b"me", b"secret")]
    assert [(r.mail_from, r.rcpt_tos, r.content) for r in relay.received] == [
        ("a@acme.test", ["b@example.com"], RAW)
    ]


def test_smtps_speaks_tls_from_the_first_byte(certificate: tuple[Path, Path]) -> None:
    relay = Relay()
    with running(relay, ssl_context=server_context(certificate)):
        mailer = SmtpMailer(f"smtps://127.0.0.1:{relay.port}", ssl_context=trusting(certificate))
        mailer.send("a@acme.test", ["b@example.com"], RAW)

    assert [r.content for r in relay.received] == [RAW]


def test_an_untrusted_certificate_is_a_retried_failure(certificate: tuple[Path, Path]) -> None:
    relay = Relay()
    with running(relay, tls_context=server_context(certificate), require_starttls=True):
        mailer = SmtpMailer(f"smtp://127.0.0.1:{relay.port}?starttls=true")  # system CAs only
        with pytest.raises(DeliveryError) as raised:
            mailer.send("a@acme.test", ["b@example.com"], RAW)

    assert not raised.value.permanent
    assert str(raised.value).startswith(f"127.0.0.1:{relay.port}: SSLCertVerificationError: ")
    assert relay.received == []


def test_starttls_asked_of_a_relay_without_it_is_a_retried_failure() -> None:
    relay = Relay()
    with running(relay):
        mailer = SmtpMailer(f"smtp://127.0.0.1:{relay.port}?starttls=true")
        with pytest.raises(DeliveryError) as raised:
            mailer.send("a@acme.test", ["b@example.com"], RAW)

    assert not raised.value.permanent
    assert str(raised.value) == (
        f"127.0.0.1:{relay.port}: SMTPNotSupportedError: "
        "STARTTLS extension not supported by server."
    )
