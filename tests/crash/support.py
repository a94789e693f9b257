"""Crash safety under load: ``missive-server serve`` is killed with SIGKILL while clients write,
restarted, and every acknowledged write must still be there and delivered.

Used by ``tests/crash/test_crash_safety.py`` (small scale, both backends) and by
``bench/crash_test.py`` (any scale, one database URL): the same code runs in both.

What runs, all real and on loopback: an aiosmtpd relay (``MISSIVE_SMTP_URL``), a threaded HTTP
webhook receiver, and ``missive-server serve`` as a subprocess with its delivery worker thread.
The database is migrated and seeded in process with the services ``missive-server seed`` runs;
two organization hooks are created through ``POST /v1/hooks``:

- ``conversation_closed``: each post goes into a new conversation with ``close: true``;
- ``outgoing_email``: each draft is created with ``send: true`` to a recipient of its own.

Client threads write posts and drafts in turn; each attempt has a unique key (in the post's
text, in the draft's recipient address), so what reaches the sinks is matched to the writes.
The kills come at random moments (``random.Random(seed)``); while the server is down clients
keep trying and their failures are counted. At the end, with the server up, the run waits (at
most ``drain_timeout``) for the mail and webhooks of every acknowledged write and for an outbox
with nothing pending, then reads every acknowledged post and draft back through the API.

Rows the killed server had claimed stay leased for ``MISSIVE_DELIVERY_LEASE_SECONDS`` (120 s in
production, a few seconds here) before the restarted worker takes them again. Delivery is
at-least-once: a kill between the relay's 250 (or the receiver's 200) and the worker's commit
sends that item again. Such repeats are counted, not failures; a write whose mail or webhook
arrives as two different deliveries (queued twice) would be a bug.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, func, make_url, select

from missive_server.db import migrate
from missive_server.db.engine import make_engine
from missive_server.db.models import OutboxItem
from missive_server.services.seed import seed as seed_service
from missive_server.services.sessions import session_factory
from tests.crash.processes import Server
from tests.delivery.mail_support import Relay, parse, running
from tests.delivery.webhook_receiver import WebhookReceiver
from tests.serve_support import free_port

ORGANIZATION = "Crash Test"
WRITER = "writer@crash.test"
TOKEN = "missive_pat-crash-writer"
RECIPIENT_DOMAIN = "crash.example"
SEED_DOCUMENT: dict[str, Any] = {
    "organizations": [{"name": ORGANIZATION}],
    "users": [
        {
            "email": WRITER,
            "name": "Crash Writer",
            "organizations": {ORGANIZATION: "owner"},
            "token": TOKEN,
        }
    ],
    "accounts": [
        {"type": "email", "address": WRITER, "organization": ORGANIZATION, "users": [WRITER]}
    ],
}
REQUEST_TIMEOUT = 10.0
#: The longest a stretch of uptime may go without any write acknowledged (then the run fails).
STRETCH_TIMEOUT = 60.0


@dataclass(frozen=True)
class CrashConfig:
    database_url: str
    clients: int = 4
    #: Seconds of load (the server up), or ``writes`` acknowledged writes when that is set.
    duration: float = 20.0
    writes: int | None = None
    kills: int = 3
    seed: int | None = None
    drain_timeout: float = 120.0
    #: ``MISSIVE_WORKER_POLL_SECONDS`` of the server.
    poll_seconds: float = 0.2
    #: ``MISSIVE_DELIVERY_LEASE_SECONDS``: rows claimed by a killed server wait this long
    #: (120 s by default in production; short here so the run need not wait two minutes).
    lease_seconds: int = 5
    #: Where ``serve.log`` (every run of the server, appended) goes; a temporary file if None.
    log_dir: Path | None = None
    #: ``serve --workers N`` (a uvicorn master and N processes, killed together).
    serve_workers: int = 1
    #: Deliveries by a separate ``missive-server worker`` (killed with ``serve``), not by a
    #: thread of ``serve`` (``MISSIVE_RUN_WORKER=false``): the PostgreSQL deployment.
    separate_worker: bool = False


@dataclass
class Attempt:
    kind: str  # "post" | "draft"
    key: str
    #: HTTP status, or None when no response came (refused or interrupted).
    status: int | None = None
    #: "refused" (nothing was sent), "interrupted" (sent, no answer) or the error body.
    failure: str | None = None
    id: str | None = None
    conversation: str | None = None
    #: Retry mode: which try of its write this was (0: the first) and whether the answer was
    #: the stored one (``Idempotent-Replayed``: an earlier try had committed).
    retry: int = 0
    replayed: bool = False

    @property
    def acknowledged(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class Ledger:
    """Every attempt of every client; thread-safe."""

    attempts: list[Attempt] = field(default_factory=list)
    _acknowledged: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, attempt: Attempt) -> None:
        with self._lock:
            self.attempts.append(attempt)
            self._acknowledged += attempt.acknowledged

    def count(self) -> int:
        with self._lock:
            return len(self.attempts)

    def acknowledged_count(self) -> int:
        with self._lock:
            return self._acknowledged

    def acknowledged(self, kind: str) -> list[Attempt]:
        with self._lock:
            return [a for a in self.attempts if a.kind == kind and a.acknowledged]


@dataclass
class Report:
    database: str
    #: What ran and was killed: ``serve``, ``serve --workers 2 + missive-server worker``.
    topology: str
    clients: int
    #: Kills done (set from the run, not from the configuration).
    kills: int
    attempts: Counter[str]
    acknowledged: Counter[str]
    refused: int
    interrupted: int
    #: Non-2xx answers by status.
    http_errors: Counter[int]
    missing_posts: list[str]
    missing_drafts: list[str]
    not_sent: list[str]
    lost_mails: list[str]
    lost_webhooks: list[str]
    mails: int
    #: The same mail (Message-ID) again: at-least-once after a kill, not a failure.
    duplicate_mails: int
    #: Draft keys whose mail came under two Message-IDs (queued twice: a bug, never expected).
    mails_queued_twice: list[str]
    #: Mail of drafts whose request got no 2xx (it committed before the kill): not a loss.
    unacknowledged_mails: int
    webhooks: int
    #: The same delivery (``webhook-id``) again: at-least-once after a kill.
    duplicate_webhooks: int
    #: Writes with two distinct deliveries of their event (queued twice: a bug).
    webhooks_queued_twice: list[str]
    unacknowledged_webhooks: int
    #: Outbox rows after the drain by (kind, status): a lost mail or webhook with a row still
    #: ``pending`` was only slow (raise ``drain_timeout``); one without any row was never queued.
    outbox: Counter[tuple[str, str]] = field(default_factory=Counter)
    seconds: float = 0.0
    #: Writes acknowledged before the first kill, between kills, after the last one.
    acknowledged_by_stretch: list[int] = field(default_factory=list)
    down_seconds: float = 0.0
    drain_seconds: float = 0.0
    log: str = ""
    #: Every try, for figures computed after the run (retry mode).
    ledger: Ledger = field(default_factory=Ledger)

    @property
    def losses(self) -> int:
        """Acknowledged writes missing or undelivered, and queued rows never delivered."""
        return self.outbox_not_sent + sum(
            len(found)
            for found in (
                self.missing_posts,
                self.missing_drafts,
                self.not_sent,
                self.lost_mails,
                self.lost_webhooks,
            )
        )

    @property
    def outbox_not_sent(self) -> int:
        """Rows still pending, or failed, after the drain: queued work that was not delivered."""
        return sum(n for (_, status), n in self.outbox.items() if status != "sent")

    @property
    def ok(self) -> bool:
        return self.losses == 0

    def summary(self) -> str:
        errors = ", ".join(f"{s}: {n}" for s, n in sorted(self.http_errors.items())) or "none"
        lines = [
            f"database            {self.database}",
            f"processes           {self.topology}",
            f"clients, kills      {self.clients}, {self.kills} (SIGKILL, then restart)",
            f"load                {self.seconds:.1f} s, of which the server was down "
            f"{self.down_seconds:.1f} s",
            f"attempts            posts {self.attempts['post']}, drafts {self.attempts['draft']}",
            f"acknowledged (2xx)  posts {self.acknowledged['post']}, "
            f"drafts {self.acknowledged['draft']} "
            f"(by stretch of uptime: {', '.join(map(str, self.acknowledged_by_stretch))})",
            f"failed requests     refused {self.refused}, interrupted {self.interrupted}, "
            f"non-2xx {errors}",
            f"drain               {self.drain_seconds:.1f} s",
            f"mails               {self.mails} received, {self.duplicate_mails} duplicates, "
            f"{self.unacknowledged_mails} of unacknowledged drafts, "
            f"{len(self.mails_queued_twice)} queued twice",
            f"webhooks            {self.webhooks} received, {self.duplicate_webhooks} duplicates, "
            f"{self.unacknowledged_webhooks} of unacknowledged writes, "
            f"{len(self.webhooks_queued_twice)} queued twice",
            "outbox after drain  "
            + ", ".join(f"{kind} {state}: {n}" for (kind, state), n in sorted(self.outbox.items())),
            f"missing posts       {len(self.missing_posts)}",
            f"missing drafts      {len(self.missing_drafts)}",
            f"drafts not sent     {len(self.not_sent)}",
            f"lost mails          {len(self.lost_mails)}",
            f"lost webhooks       {len(self.lost_webhooks)}",
            f"outbox not sent     {self.outbox_not_sent}",
            f"LOSSES              {self.losses}",
            f"serve log           {self.log}",
        ]
        for name in ("missing_posts", "missing_drafts", "not_sent", "lost_mails", "lost_webhooks"):
            found: list[str] = getattr(self, name)
            if found:
                lines.append(f"{name}: {', '.join(found[:20])}{' ...' if len(found) > 20 else ''}")
        return "\n".join(lines)


def bearer() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


def post_body(key: str, organization: str) -> dict[str, Any]:
    return {
        "posts": {
            "organization": organization,
            "notification": {"title": "Crash test", "body": key},
            "text": f"post {key}",
            "conversation_subject": f"Post {key}",
            "close": True,
        }
    }


def draft_body(key: str, organization: str) -> dict[str, Any]:
    return {
        "drafts": {
            "organization": organization,
            "subject": f"Draft {key}",
            "body": f"<div>draft {key}</div>",
            "from_field": {"address": WRITER, "name": "Crash Writer"},
            "to_fields": [{"address": f"{key}@{RECIPIENT_DOMAIN}"}],
            "send": True,
        }
    }


def write(
    client: httpx.Client, kind: str, key: str, organization: str, *, idempotent: bool = False
) -> Attempt:
    """One try; with ``idempotent`` the write's key goes as its ``Idempotency-Key`` too."""
    attempt = Attempt(kind, key)
    body = post_body(key, organization) if kind == "post" else draft_body(key, organization)
    headers = {"Idempotency-Key": f"{kind}-{key}"} if idempotent else {}
    try:
        response = client.post(f"/v1/{kind}s", json=body, headers=headers)
    except httpx.ConnectError:
        attempt.failure = "refused"
        return attempt
    except httpx.TransportError:
        attempt.failure = "interrupted"
        return attempt
    attempt.status = response.status_code
    attempt.replayed = response.headers.get("idempotent-replayed") == "true"
    if attempt.acknowledged:
        created = response.json()[f"{kind}s"]
        attempt.id, attempt.conversation = created["id"], created["conversation"]
    else:
        attempt.failure = response.text[:200]
    return attempt


def client_loop(
    base: str, number: int, organization: str, ledger: Ledger, stop: threading.Event
) -> None:
    """Posts and drafts in turn until ``stop``; a failure is recorded and the next one tried."""
    with httpx.Client(base_url=base, headers=bearer(), timeout=REQUEST_TIMEOUT) as client:
        n = 0
        while not stop.is_set():
            kind = "post" if n % 2 == 0 else "draft"
            attempt = write(client, kind, f"c{number}-{n}", organization)
            ledger.add(attempt)
            n += 1
            if not attempt.acknowledged:
                time.sleep(0.05)  # the server is down or restarting: do not spin


def create_hooks(base: str, organization: str, receiver: WebhookReceiver) -> None:
    """The run's two hooks. A database that has hooks already held an earlier run: its hooks
    would deliver every event twice, and its outbox rows would count in this run's figures."""
    existing = httpx.get(f"{base}/v1/hooks", headers=bearer(), timeout=REQUEST_TIMEOUT)
    if existing.status_code != 200 or existing.json()["hooks"]:
        raise RuntimeError(
            "the database already holds a crash run (or is unusable): use an empty one"
        )
    for hook_type in ("conversation_closed", "outgoing_email"):
        response = httpx.post(
            f"{base}/v1/hooks",
            headers=bearer(),
            json={
                "hooks": {
                    "type": hook_type,
                    "url": receiver.url(f"/hooks/{hook_type}"),
                    "organization": organization,
                }
            },
            timeout=REQUEST_TIMEOUT,
        )
        if response.status_code != 201:
            raise RuntimeError(f"POST /v1/hooks: {response.status_code} {response.text}")


@contextmanager
def sinks() -> Iterator[tuple[Relay, WebhookReceiver]]:
    receiver = WebhookReceiver()
    receiver.start()
    try:
        with running(Relay()) as relay:
            yield relay, receiver
    finally:
        receiver.stop()


def server_env(config: CrashConfig, relay: Relay) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MISSIVE_")}
    return {
        **env,
        "MISSIVE_DATABASE_URL": config.database_url,
        "MISSIVE_SMTP_URL": relay.url,
        "MISSIVE_WEBHOOK_ALLOW_PRIVATE": "127.0.0.1",
        "MISSIVE_RATE_LIMIT": "off",
        "MISSIVE_RUN_WORKER": "false" if config.separate_worker else "true",
        "MISSIVE_WORKER_POLL_SECONDS": str(config.poll_seconds),
        "MISSIVE_DELIVERY_LEASE_SECONDS": str(config.lease_seconds),
        # A request killed mid-way holds its Idempotency-Key this long (409s to its retries).
        "MISSIVE_IDEMPOTENCY_LEASE_SECONDS": str(config.lease_seconds),
        # Below the lease: an attempt still running when its lease ends could be sent twice.
        "MISSIVE_WEBHOOK_TIMEOUT_SECONDS": str(max(1, config.lease_seconds - 2)),
        "MISSIVE_WEB_UI": "false",
    }


def kill_points(config: CrashConfig, rng: random.Random) -> list[float]:
    """Where each kill falls: a random point in each of the first ``kills`` of ``kills + 1``
    equal slices of the load (seconds of the server up, or acknowledged writes when ``writes``
    is set), never in a slice's first 30 %: every restart meets load before the next kill."""
    total = float(config.writes) if config.writes is not None else config.duration
    part = total / (config.kills + 1)
    return [part * (i + rng.uniform(0.3, 1.0)) for i in range(config.kills)]


#: A client thread: ``(base, number, organization, ledger, stop)``.
ClientLoop = Callable[[str, int, str, Ledger, threading.Event], None]


def run(
    config: CrashConfig,
    progress: Callable[[str], None] = lambda _: None,
    *,
    client: ClientLoop = client_loop,
) -> Report:
    """``client`` is what each client thread runs (``tests/crash/retry.py`` retries)."""
    rng = random.Random(config.seed)
    with ExitStack() as stack:
        relay, receiver = stack.enter_context(sinks())
        engine = make_engine(config.database_url)
        stack.callback(engine.dispose)
        organization = seed(engine)
        server = _serve(config, stack, relay)
        create_hooks(server.base, organization, receiver)
        progress(f"serving on {server.base}; log {server.log}")
        ledger, stop = Ledger(), threading.Event()
        threads = [
            threading.Thread(
                target=client, args=(server.base, n, organization, ledger, stop), daemon=True
            )
            for n in range(config.clients)
        ]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        try:
            down, stretches = _load(config, rng, server, ledger, started, progress)
        finally:
            stop.set()
            for thread in threads:
                # A retrying client finishes its write first: a key a killed request held
                # answers 409 for up to the lease.
                thread.join(REQUEST_TIMEOUT + 5 + 2 * config.lease_seconds)
        seconds = time.monotonic() - started
        progress(f"load done: {ledger.count()} attempts in {seconds:.1f} s; draining")
        drain_started = time.monotonic()
        _drain(config, engine, ledger, relay, receiver)
        drain_seconds = time.monotonic() - drain_started
        report = _report(config, ledger, relay, receiver, server.base)
        report.ledger = ledger
        report.outbox = outbox_counts(engine)
        report.log = str(server.log) if config.log_dir else "(not kept; --log-dir keeps it)"
    report.seconds, report.down_seconds, report.drain_seconds = seconds, down, drain_seconds
    report.acknowledged_by_stretch = stretches
    report.kills = len(stretches) - 1
    return report


def seed(engine: Engine) -> str:
    """Migrate, then seed with the service ``missive-server seed`` runs (in this process: a
    subprocess would import the application once more); returns the organization's id."""
    migrate.upgrade(engine)
    with session_factory(engine)() as session:
        document = seed_service.parse_document(SEED_DOCUMENT)
        result = seed_service.seed(session, document, now=int(time.time()))
        session.commit()
    return result.as_json()["organizations"][ORGANIZATION]


def _serve(config: CrashConfig, stack: ExitStack, relay: Relay) -> Server:
    log_dir = config.log_dir or Path(
        stack.enter_context(tempfile.TemporaryDirectory(prefix="missive-crash-"))
    )
    server = Server(
        server_env(config, relay),
        free_port(),
        log_dir / "serve.log",
        serve_workers=config.serve_workers,
        separate_worker=config.separate_worker,
        ready_headers=bearer(),
    )
    stack.callback(server.stop)
    server.start()
    return server


def _load(
    config: CrashConfig,
    rng: random.Random,
    server: Server,
    ledger: Ledger,
    started: float,
    progress: Callable[[str], None],
) -> tuple[float, list[int]]:
    """Kill and restart at the kill points. Returns the seconds the server was down and the
    acknowledged writes between start, kills and end (one figure per stretch of uptime).
    A stretch ends only once it has acknowledged a write: a kill before the restarted server
    took any load would test nothing."""
    down, marks = 0.0, [0]

    def position() -> float:
        if config.writes is not None:
            return float(ledger.acknowledged_count())
        return time.monotonic() - started - down

    def wait_for(point: float) -> None:
        while position() < point:
            time.sleep(0.005)
        deadline = time.monotonic() + STRETCH_TIMEOUT
        while ledger.acknowledged_count() == marks[-1]:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"no write acknowledged in {STRETCH_TIMEOUT} s; see {server.log}"
                )
            time.sleep(0.005)

    for number, point in enumerate(kill_points(config, rng), 1):
        wait_for(point)
        server.kill()
        killed = time.monotonic()
        marks.append(ledger.acknowledged_count())
        server.start()
        down += time.monotonic() - killed
        progress(
            f"kill {number}/{config.kills} after {marks[-1]} acknowledged "
            f"writes; up again after {time.monotonic() - killed:.1f} s"
        )
    wait_for(float(config.writes) if config.writes is not None else config.duration)
    marks.append(ledger.acknowledged_count())
    return down, [b - a for a, b in pairwise(marks)]


#: What reached a sink: the write's key -> how often each delivery (a mail's Message-ID, a
#: webhook's ``webhook-id``) arrived. One delivery twice is at-least-once after a kill; two
#: deliveries for one write would mean it was queued twice.
Arrivals = dict[str, Counter[str]]


def _mails(relay: Relay) -> Arrivals:
    """Recipient local part (the draft's key) -> Message-ID -> count."""
    arrivals: Arrivals = {}
    for mail in list(relay.received):
        message_id = str(parse(mail.content)["Message-ID"])
        for address in mail.rcpt_tos:
            local, _, domain = address.partition("@")
            if domain == RECIPIENT_DOMAIN:
                arrivals.setdefault(local, Counter())[message_id] += 1
    return arrivals


def _webhooks(receiver: WebhookReceiver) -> Arrivals:
    """Draft (message) id or post's conversation id -> ``webhook-id`` -> count."""
    arrivals: Arrivals = {}
    for request in list(receiver.requests):
        payload = json.loads(request.body)
        if request.path.endswith("/outgoing_email"):
            key = payload["message"]["id"]
        else:
            key = payload["conversation"]["id"]
        arrivals.setdefault(key, Counter())[request.headers["webhook-id"]] += 1
    return arrivals


def _repeats(arrivals: Arrivals) -> int:
    return sum(n - 1 for deliveries in arrivals.values() for n in deliveries.values())


def _queued_twice(arrivals: Arrivals) -> list[str]:
    return sorted(key for key, deliveries in arrivals.items() if len(deliveries) > 1)


def _total(arrivals: Arrivals) -> int:
    return sum(n for deliveries in arrivals.values() for n in deliveries.values())


def _expected_webhooks(ledger: Ledger) -> set[str]:
    posts = {str(a.conversation) for a in ledger.acknowledged("post")}
    return posts | {str(a.id) for a in ledger.acknowledged("draft")}


def _drain(
    config: CrashConfig, engine: Engine, ledger: Ledger, relay: Relay, receiver: WebhookReceiver
) -> None:
    """Until every acknowledged draft's mail and every expected webhook arrived and no outbox
    row is pending any more (rows of unacknowledged writes included); at most
    ``drain_timeout``."""
    want_mail = {a.key for a in ledger.acknowledged("draft")}
    want_hooks = _expected_webhooks(ledger)
    deadline = time.monotonic() + config.drain_timeout
    while time.monotonic() < deadline:
        arrived = want_mail <= set(_mails(relay)) and want_hooks <= set(_webhooks(receiver))
        if arrived and not any(s == "pending" for _, s in outbox_counts(engine)):
            return
        time.sleep(0.2)


def _report(
    config: CrashConfig,
    ledger: Ledger,
    relay: Relay,
    receiver: WebhookReceiver,
    base: str,
) -> Report:
    attempts = ledger.attempts
    posts, drafts = ledger.acknowledged("post"), ledger.acknowledged("draft")
    mails, hooks = _mails(relay), _webhooks(receiver)
    expected_hooks = _expected_webhooks(ledger)
    missing_posts, missing_drafts, not_sent = _read_back(base, posts, drafts)
    acknowledged_keys = {a.key for a in drafts}
    return Report(
        database=_redacted(config.database_url),
        topology=Server.describe(config.serve_workers, separate_worker=config.separate_worker),
        clients=config.clients,
        kills=config.kills,
        attempts=Counter(a.kind for a in attempts),
        acknowledged=Counter(a.kind for a in attempts if a.acknowledged),
        refused=sum(a.failure == "refused" for a in attempts),
        interrupted=sum(a.failure == "interrupted" for a in attempts),
        http_errors=Counter(a.status for a in attempts if a.status and not a.acknowledged),
        missing_posts=missing_posts,
        missing_drafts=missing_drafts,
        not_sent=not_sent,
        lost_mails=sorted(acknowledged_keys - set(mails)),
        lost_webhooks=sorted(expected_hooks - set(hooks)),
        mails=_total(mails),
        duplicate_mails=_repeats(mails),
        mails_queued_twice=_queued_twice(mails),
        unacknowledged_mails=len(set(mails) - acknowledged_keys),
        webhooks=_total(hooks),
        duplicate_webhooks=_repeats(hooks),
        webhooks_queued_twice=_queued_twice(hooks),
        unacknowledged_webhooks=len(set(hooks) - expected_hooks),
    )


def _read_back(
    base: str, posts: list[Attempt], drafts: list[Attempt]
) -> tuple[list[str], list[str], list[str]]:
    """(posts not listed in their conversation, drafts not readable, drafts not ``sent``)."""
    missing_posts, missing_drafts, not_sent = [], [], []
    with httpx.Client(base_url=base, headers=bearer(), timeout=REQUEST_TIMEOUT) as client:
        for post in posts:
            response = client.get(f"/v1/conversations/{post.conversation}/posts")
            listed = (
                {p["id"] for p in response.json()["posts"]}
                if response.status_code == 200
                else set()
            )
            if post.id not in listed:
                missing_posts.append(str(post.id))
        for draft in drafts:
            response = client.get(f"/v1/messages/{draft.id}")
            if response.status_code != 200:
                missing_drafts.append(str(draft.id))
            elif response.json()["messages"].get("delivery_status") != "sent":
                not_sent.append(str(draft.id))
    return missing_posts, missing_drafts, not_sent


def outbox_counts(engine: Engine) -> Counter[tuple[str, str]]:
    """Read straight from the database: the API shows no outbox (outside the emulator)."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(OutboxItem.kind, OutboxItem.status, func.count()).group_by(
                OutboxItem.kind, OutboxItem.status
            )
        )
        return Counter({(kind, status): n for kind, status, n in rows})


def _redacted(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)
