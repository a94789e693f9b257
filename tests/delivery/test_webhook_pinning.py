"""A webhook connects to the address its SSRF check approved, never to a second DNS answer
(DNS rebinding), and TLS still verifies the receiver's name (``delivery/pinning``).

The hooks point at ``hooks.rebind.test``, a name no DNS server answers (RFC 6761): only the
injected resolver knows it, so a request that reaches the receiver went to the checked address.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session

from missive_server.clock import FrozenClock
from missive_server.db.models import Hook
from missive_server.delivery.webhooks import WebhookHandler
from missive_server.delivery.worker import Worker
from missive_server.services.hooks.webhook_urls import WebhookUrlPolicy
from missive_server.services.outbox import RetryPolicy
from tests.delivery.webhook_receiver import WebhookReceiver, receiver
from tests.delivery.webhook_support import make_hook, outbox_row, queue
from tests.factories import Factory

__all__ = ["receiver"]  # fixture

NAME = "hooks.rebind.test"


@dataclass
class ScriptedResolver:
    """``getaddrinfo`` whose answers change from one lookup to the next (the last one stays)."""

    answers: list[list[str]]
    lookups: list[str] = field(default_factory=list)

    def __call__(self, host: str, port: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        self.lookups.append(host)
        addresses = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]


@dataclass
class Rig:
    """The app's database, a hook maker and workers whose webhook handler uses a resolver."""

    app: Any
    session: Session
    factory: Factory
    clock: FrozenClock

    def hook(self, url: str) -> Hook:
        org = self.factory.organization()
        alice, _ = self.factory.member(org, "admin")
        return make_hook(self.session, user=alice, org=org, url=url)

    def worker(self, client: httpx.Client, resolver: ScriptedResolver) -> Worker:
        # Loopback is where the receivers listen; every other guard (private, metadata) stays.
        urls = WebhookUrlPolicy(allow_loopback=True, resolve=resolver)
        return Worker(
            self.app.state.session_factory,
            clock=self.clock,
            handlers={"webhook": WebhookHandler(client, urls=urls)},
            policy=RetryPolicy(3, 60),
        )


@pytest.fixture
def rig(app: Any, session: Session, factory: Factory, clock: FrozenClock) -> Rig:
    return Rig(app, session, factory, clock)


@pytest.fixture
def plain_client() -> Iterator[httpx.Client]:
    with httpx.Client(follow_redirects=False) as client:
        yield client


def test_the_request_goes_to_the_checked_address_with_the_hosts_name(
    rig: Rig, receiver: WebhookReceiver, plain_client: httpx.Client
) -> None:
    # Safe the first time, the metadata service the second: a client resolving again would
    # connect there (or fail, the name being unknown to real DNS).
    resolver = ScriptedResolver([["127.0.0.1"], ["169.254.169.254"]])
    hook = rig.hook(receiver.url(host=NAME))
    delivery = queue(rig.session, hook)

    assert rig.worker(plain_client, resolver).run_once() == 1

    assert outbox_row(rig.session, delivery.id).status == "sent"
    [request] = receiver.requests
    assert request.headers["host"] == f"{NAME}:{receiver.port}"
    assert request.path == "/hooks/missive?token=abc"
    assert resolver.lookups == [NAME]


def test_the_next_attempt_checks_again_and_never_connects_to_a_forbidden_answer(
    rig: Rig, receiver: WebhookReceiver, plain_client: httpx.Client
) -> None:
    resolver = ScriptedResolver([["127.0.0.1"], ["10.0.0.7"]])
    hook = rig.hook(receiver.url(host=NAME))
    first, second = queue(rig.session, hook, n=1), queue(rig.session, hook, n=2)
    worker = rig.worker(plain_client, resolver)

    assert worker.run_once() == 2

    rows = {d.id: outbox_row(rig.session, d.id) for d in (first, second)}
    assert sorted(row.status for row in rows.values()) == ["failed", "sent"]
    refused = next(row for row in rows.values() if row.status == "failed")
    assert refused.last_error == (
        f"'url' host '{NAME}' resolves to a private address (10.0.0.7); "
        "set MISSIVE_WEBHOOK_ALLOW_PRIVATE to allow it"
    )
    assert len(receiver.requests) == 1
    assert resolver.lookups == [NAME, NAME]


def test_an_unreachable_checked_address_falls_back_to_the_next_checked_one(
    rig: Rig, receiver: WebhookReceiver, plain_client: httpx.Client
) -> None:
    # 127.0.0.2 is loopback too, but nothing listens there on the receiver's port.
    resolver = ScriptedResolver([["127.0.0.2", "127.0.0.1"]])
    hook = rig.hook(receiver.url(host=NAME))
    delivery = queue(rig.session, hook)

    rig.worker(plain_client, resolver).run_once()

    assert outbox_row(rig.session, delivery.id).status == "sent"
    assert [r.headers["host"] for r in receiver.requests] == [f"{NAME}:{receiver.port}"]


# --- TLS: the certificate is verified against the name, SNI carries it --------------------------


@dataclass(frozen=True)
class Certificates:
    ca: Path
    directory: Path

    def server_context(self, subject_alt_name: str) -> ssl.SSLContext:
        stem = subject_alt_name.replace(":", "_").replace(".", "_")
        key, cert = self.directory / f"{stem}.key", self.directory / f"{stem}.pem"
        csr, extensions = self.directory / f"{stem}.csr", self.directory / f"{stem}.ext"
        extensions.write_text(
            f"subjectAltName={subject_alt_name}\nbasicConstraints=CA:FALSE\n"
            "extendedKeyUsage=serverAuth\n"
        )
        _openssl("req", "-new", *_EC_KEY, "-keyout", key, "-out", csr, "-subj", "/CN=receiver")
        _openssl(
            "x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", self.directory / "ca.key",
            "-CAcreateserial", "-out", cert, "-days", "1", "-extfile", extensions,
        )  # fmt: skip
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        return context


_EC_KEY = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    directory = tmp_path_factory.mktemp("tls")
    _openssl(
        "req", "-x509", *_EC_KEY, "-keyout", directory / "ca.key", "-out", directory / "ca.pem",
        "-days", "1", "-subj", "/CN=missive-server test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    return Certificates(directory / "ca.pem", directory)


@pytest.fixture
def tls_client(certificates: Certificates) -> Iterator[httpx.Client]:
    """Trusts the test CA only, with the default checks (hostname included)."""
    with httpx.Client(verify=ssl.create_default_context(cafile=certificates.ca)) as client:
        yield client


def tls_receiver(certificates: Certificates, subject_alt_name: str) -> WebhookReceiver:
    receiver = WebhookReceiver()
    receiver.tls = certificates.server_context(subject_alt_name)
    receiver.start()
    return receiver


def test_tls_sends_the_name_as_sni_and_verifies_the_certificate_against_it(
    rig: Rig, certificates: Certificates, tls_client: httpx.Client
) -> None:
    receiver = tls_receiver(certificates, f"DNS:{NAME}")
    try:
        hook = rig.hook(receiver.url(host=NAME))
        delivery = queue(rig.session, hook)

        rig.worker(tls_client, ScriptedResolver([["127.0.0.1"]])).run_once()

        assert outbox_row(rig.session, delivery.id).status == "sent"
        assert receiver.sni == [NAME]
        assert [r.headers["host"] for r in receiver.requests] == [f"{NAME}:{receiver.port}"]
    finally:
        receiver.stop()


def test_a_certificate_for_the_address_but_not_the_name_is_refused(
    rig: Rig, certificates: Certificates, tls_client: httpx.Client
) -> None:
    # Valid for 127.0.0.1, the address actually connected to: accepting it would mean the
    # pinned connection verified the address instead of the receiver's name.
    receiver = tls_receiver(certificates, "IP:127.0.0.1")
    try:
        hook = rig.hook(receiver.url(host=NAME))
        delivery = queue(rig.session, hook)

        rig.worker(tls_client, ScriptedResolver([["127.0.0.1"]])).run_once()

        row = outbox_row(rig.session, delivery.id)
        assert row.status == "pending"
        assert row.last_error is not None
        assert "CERTIFICATE_VERIFY_FAILED" in row.last_error
        assert f"Hostname mismatch, certificate is not valid for '{NAME}'" in row.last_error
        assert receiver.requests == []
    finally:
        receiver.stop()
