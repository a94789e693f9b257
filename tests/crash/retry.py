"""The crash run's retry mode (issue 14): every write carries an ``Idempotency-Key`` and its
client retries it, with the same key and body, after anything but a definite answer (the
connection refused while the server is down, the response lost to a kill, a 409 while a
killed request's reservation holds the key, a 5xx) until it is acknowledged. A retry whose
earlier try had committed before the kill gets the stored answer (``Idempotent-Replayed``).

Zero duplicates: each write's key is in exactly one post (its text) or one message (its
subject), read straight from the database. Zero losses: every write was acknowledged, and
``support``'s checks hold (read back through the API, mail and webhook delivered).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from sqlalchemy import Engine, func, select

from missive_server.db.engine import make_engine
from missive_server.db.models import Message, Post
from tests.crash.support import (
    REQUEST_TIMEOUT,
    Attempt,
    CrashConfig,
    Ledger,
    Report,
    bearer,
    run,
    write,
)

#: How long one write is retried before it counts as lost (restarts take 5-10 s here).
WRITE_DEADLINE = 120.0


def client_loop(
    base: str, number: int, organization: str, ledger: Ledger, stop: threading.Event
) -> None:
    """Posts and drafts in turn; each is retried until acknowledged, even once ``stop`` is
    set (a write abandoned half-way would be neither a loss nor a success)."""
    with httpx.Client(base_url=base, headers=bearer(), timeout=REQUEST_TIMEOUT) as client:
        n = 0
        while not stop.is_set():
            kind = "post" if n % 2 == 0 else "draft"
            write_until_acknowledged(client, kind, f"c{number}-{n}", organization, ledger)
            n += 1


def write_until_acknowledged(
    client: httpx.Client, kind: str, key: str, organization: str, ledger: Ledger
) -> None:
    deadline = time.monotonic() + WRITE_DEADLINE
    for retry in range(1_000_000):
        attempt = write(client, kind, key, organization, idempotent=True)
        attempt.retry = retry
        ledger.add(attempt)
        if attempt.acknowledged or _definite(attempt) or time.monotonic() > deadline:
            return
        time.sleep(0.05)  # the server is down, restarting, or a reservation holds the key


def _definite(attempt: Attempt) -> bool:
    """A 4xx other than 409 is the request's own fault: retrying replays it unchanged."""
    return attempt.status is not None and 400 <= attempt.status < 500 and attempt.status != 409


@dataclass
class RetryFigures:
    writes: int
    acknowledged: int
    retries: int
    #: Retries answered from the stored answer: without the key each was a duplicate.
    replayed: int
    in_progress_409: int
    #: Writes never acknowledged (a loss).
    unacknowledged: list[str]
    #: Write keys found in more than one post or message row.
    duplicates: list[str]
    #: Acknowledged writes whose key is in no row.
    missing: list[str]

    @property
    def ok(self) -> bool:
        return not (self.unacknowledged or self.duplicates or self.missing)

    def summary(self) -> str:
        return "\n".join(
            [
                f"writes (retry mode) {self.writes} started, {self.acknowledged} acknowledged, "
                f"{self.retries} retries",
                f"retries answered    replayed {self.replayed} (committed before the kill), "
                f"409 in progress {self.in_progress_409}",
                f"unacknowledged      {len(self.unacknowledged)}",
                f"duplicate writes    {len(self.duplicates)}",
                f"missing writes      {len(self.missing)}",
            ]
        )


@dataclass
class RetryReport:
    base: Report
    figures: RetryFigures

    @property
    def ok(self) -> bool:
        return self.base.ok and self.figures.ok

    def summary(self) -> str:
        verdict = "OK" if self.ok else "FAILED"
        return f"{self.base.summary()}\n{self.figures.summary()}\nRETRY MODE          {verdict}"


def run_retrying(
    config: CrashConfig, progress: Callable[[str], None] = lambda _: None
) -> RetryReport:
    report = run(config, progress, client=client_loop)
    engine = make_engine(config.database_url)
    try:
        return RetryReport(report, figures(report.ledger, engine))
    finally:
        engine.dispose()


def figures(ledger: Ledger, engine: Engine) -> RetryFigures:
    attempts = list(ledger.attempts)
    kinds = {a.key: a.kind for a in attempts}
    acknowledged = {a.key for a in attempts if a.acknowledged}
    rows = _rows_per_key(engine)
    return RetryFigures(
        writes=len(kinds),
        acknowledged=len(acknowledged),
        retries=sum(a.retry > 0 for a in attempts),
        replayed=sum(a.replayed for a in attempts),
        in_progress_409=sum(a.status == 409 for a in attempts),
        unacknowledged=sorted(set(kinds) - acknowledged),
        duplicates=sorted(k for k, n in rows.items() if n > 1),
        missing=sorted(k for k in acknowledged if rows[k] == 0),
    )


def _rows_per_key(engine: Engine) -> Counter[str]:
    """Write key -> rows holding it: posts by text ``post <key>``, drafts by subject."""
    with engine.connect() as connection:
        posts = connection.execute(select(Post.text, func.count()).group_by(Post.text))
        drafts = connection.execute(
            select(Message.subject, func.count())
            .where(Message.subject.like("Draft %"))
            .group_by(Message.subject)
        )
        found: Counter[str] = Counter()
        for text, n in posts:
            if text and text.startswith("post "):
                found[text.removeprefix("post ")] += n
        for subject, n in drafts:
            found[str(subject).removeprefix("Draft ")] += n
        return found
