"""The delivery worker: claims due outbox rows and hands each to the handler for its kind.

Claiming and recording happen in short transactions; the handler's network I/O happens between
them, outside any transaction. Runs as a thread inside ``serve`` or as ``missive-server worker``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from missive_server.clock import Clock
from missive_server.db.models import OutboxItem
from missive_server.services import idempotency, outbox
from missive_server.services.outbox import RetryPolicy

log = logging.getLogger("missive_server.worker")

#: Seconds (of the injected clock) between two sweeps of expired idempotency keys: a DELETE
#: takes SQLite's write lock even when nothing matches, so not on every poll.
PURGE_EVERY_SECONDS = 60


#: Writes that must survive a failed attempt (the handler's own session is rolled back).
FailureRecord = Callable[[Session, OutboxItem], None]


class DeliveryError(Exception):
    """A failed attempt. ``permanent`` failures are not retried (e.g. a 5xx SMTP refusal).

    ``record``, when given, runs in the transaction that records the failure, after the row
    was rescheduled or failed, so what it writes (an attempt log) commits with that outcome."""

    def __init__(
        self, message: str, *, permanent: bool = False, record: FailureRecord | None = None
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.record = record


@dataclass(frozen=True, slots=True)
class Delivered:
    raw: bytes | None = None
    captured: bool = False


class Handler(Protocol):
    def deliver(self, session: Session, item: OutboxItem, *, now: int) -> Delivered:
        """Do the work of one row. May read the database through ``session``; raises
        ``DeliveryError`` on failure. Database writes it makes commit with the outcome."""
        ...


class Worker:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        clock: Clock,
        handlers: Mapping[str, Handler],
        policy: RetryPolicy,
        policies: Mapping[str, RetryPolicy] | None = None,
        batch_size: int = 20,
        lease_seconds: int = outbox.LEASE_SECONDS,
    ) -> None:
        """``policy`` retries every kind not in ``policies``. A kind's own policy is the
        server's setting at attempt time: it also overrides the ``max_attempts`` its rows
        were queued with, so a changed schedule applies to rows already queued."""
        self.session_factory = session_factory
        self.clock = clock
        self.handlers = handlers
        self.policy = policy
        self.policies: Mapping[str, RetryPolicy] = policies or {}
        self.batch_size = batch_size
        self.lease_seconds = lease_seconds
        self._next_purge_at = 0

    def run_once(self) -> int:
        """Deliver every row due now, after removing expired idempotency keys (at most once
        a minute); returns how many rows were attempted."""
        self.purge_expired_keys()
        attempted = 0
        while True:
            leases = self._claim()
            for item_id, held_until in leases:
                self._deliver_leased(item_id, held_until)
            attempted += len(leases)
            if len(leases) < self.batch_size:
                return attempted

    def run_forever(self, stop: threading.Event, poll_seconds: float) -> None:
        while not stop.is_set():
            try:
                self.run_once()
            except Exception:  # a broken database must not kill the thread; retry next poll
                log.exception("delivery worker pass failed")
            stop.wait(poll_seconds)

    def purge_expired_keys(self) -> int:
        """Delete idempotency keys past ``MISSIVE_IDEMPOTENCY_TTL_SECONDS``; how many."""
        now = self.clock.now()
        if now < self._next_purge_at:
            return 0
        with self.session_factory.begin() as session:
            purged = idempotency.purge_expired(session, now=now)
        self._next_purge_at = now + PURGE_EVERY_SECONDS
        return purged

    def _claim(self) -> list[tuple[str, int]]:
        """``(id, locked_until)`` of the rows leased to this pass."""
        with self.session_factory.begin() as session:
            items = outbox.claim_due(
                session,
                now=self.clock.now(),
                limit=self.batch_size,
                lease_seconds=self.lease_seconds,
            )
            return [(item.id, item.locked_until or 0) for item in items]

    def _deliver_leased(self, item_id: str, held_until: int) -> None:
        """Deliver one claimed row while holding its lease. A batch's rows are leased together
        but delivered one after another, so a row whose lease is past a third is renewed first
        (skipped when another worker took it over meanwhile), and a ``LeaseKeeper`` renews it
        while its handler runs: a slow receiver never lets a second worker send it again."""
        if self.clock.now() + self.lease_seconds * 2 / 3 > held_until:
            renewed = self.renew(item_id, held_until)
            if renewed is None:
                log.info("outbox %s was taken over by another worker; skipped", item_id)
                return
            held_until = renewed
        with LeaseKeeper(self, item_id, held_until):
            self._deliver(item_id)

    def renew(self, item_id: str, held_until: int) -> int | None:
        with self.session_factory.begin() as session:
            return outbox.renew_lease(
                session,
                item_id=item_id,
                held_until=held_until,
                now=self.clock.now(),
                lease_seconds=self.lease_seconds,
            )

    def _deliver(self, item_id: str) -> None:
        with self.session_factory() as session:
            item = session.get(OutboxItem, item_id)
            if item is None or item.status != "pending":
                return
            handler = self.handlers.get(item.kind)
            try:
                if handler is None:
                    raise DeliveryError(f"no handler for outbox kind '{item.kind}'", permanent=True)
                result = handler.deliver(session, item, now=self.clock.now())
            except DeliveryError as error:
                session.rollback()
                self._failed(item_id, str(error), permanent=error.permanent, record=error.record)
                return
            except Exception as error:  # an unexpected bug is retried like a transient failure
                log.exception("outbox %s (%s) failed unexpectedly", item_id, item.kind)
                session.rollback()
                self._failed(item_id, f"{type(error).__name__}: {error}", permanent=False)
                return
            outbox.record_sent(
                session, item, now=self.clock.now(), raw=result.raw, captured=result.captured
            )
            session.commit()

    def _failed(
        self, item_id: str, error: str, *, permanent: bool, record: FailureRecord | None = None
    ) -> None:
        with self.session_factory.begin() as session:
            item = session.get(OutboxItem, item_id)
            if item is None:
                return
            policy = self.policies.get(item.kind)
            if policy is not None:
                item.max_attempts = policy.max_attempts
            failed = outbox.record_failure(
                session,
                item,
                now=self.clock.now(),
                error=error,
                policy=policy or self.policy,
                permanent=permanent,
            )
            if record is not None:
                record(session, item)
            if failed:
                log.warning("outbox %s (%s) failed for good: %s", item_id, item.kind, error)


class LeaseKeeper:
    """Renews one row's lease every third of the lease while its delivery runs, from a thread
    of its own and in short transactions of its own (the handler's session stays untouched)."""

    def __init__(self, worker: Worker, item_id: str, held_until: int) -> None:
        self.worker = worker
        self.item_id = item_id
        self.held_until = held_until
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{item_id[:8]}", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        interval = self.worker.lease_seconds / 3
        while not self._stop.wait(interval):
            try:
                renewed = self.worker.renew(self.item_id, self.held_until)
            except Exception:  # a database hiccup: the next beat tries again
                log.exception("renewing the lease of outbox %s failed", self.item_id)
                continue
            if renewed is None:
                log.warning("outbox %s: lease lost during its delivery", self.item_id)
                return
            self.held_until = renewed
