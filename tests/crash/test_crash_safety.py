"""SIGKILL ``missive-server serve`` under load, twice, on each backend: no acknowledged post or
sent draft is lost, and each one's mail and webhook arrive (at least once). The harness is
``tests/crash/support.py``, the same code ``bench/crash_test.py`` runs at larger scale."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.crash.retry import run_retrying
from tests.crash.support import CrashConfig, run


def small(database_url: str, tmp_path: Path, *, seed: int, **changes: Any) -> CrashConfig:
    """Three clients, four seconds of uptime, two kills, a three-second lease."""
    return CrashConfig(
        database_url=database_url,
        clients=3,
        duration=4.0,
        kills=2,
        seed=seed,
        drain_timeout=60.0,
        lease_seconds=3,
        log_dir=tmp_path,
        **changes,
    )


@pytest.mark.slow(20)
def test_nothing_acknowledged_is_lost_when_serve_is_killed(
    database_url: str, tmp_path: Path
) -> None:
    config = small(database_url, tmp_path, seed=7)

    report = run(config)

    summary = report.summary()
    print(summary)  # the figures, with `pytest -s`
    # The run really wrote through both kills (else "no loss" would prove nothing).
    assert report.acknowledged["post"] > 0, summary
    assert report.acknowledged["draft"] > 0, summary
    assert report.kills == 2, summary
    assert len(report.acknowledged_by_stretch) == 3, summary
    assert all(n > 0 for n in report.acknowledged_by_stretch), summary
    assert report.missing_posts == [], summary
    assert report.missing_drafts == [], summary
    assert report.lost_mails == [], summary
    assert report.lost_webhooks == [], summary
    assert report.not_sent == [], summary
    assert report.outbox_not_sent == 0, summary
    # Repeats of one delivery are allowed (at-least-once); a write queued twice is not.
    assert report.mails_queued_twice == [], summary
    assert report.webhooks_queued_twice == [], summary


@pytest.mark.slow(120)
def test_serve_with_two_processes_and_a_separate_worker_lose_nothing_when_killed(
    database_url: str, tmp_path: Path
) -> None:
    """The PostgreSQL deployment: ``serve --workers 2`` without its worker thread, deliveries
    by ``missive-server worker``; each kill takes all four processes down at once."""
    if not database_url.startswith("postgresql"):
        pytest.skip("several processes serving and delivering is the PostgreSQL deployment")
    config = small(database_url, tmp_path, seed=5, serve_workers=2, separate_worker=True)

    report = run(config)

    summary = report.summary()
    print(summary)  # the figures, with `pytest -s`
    assert report.topology == "serve --workers 2 + missive-server worker", summary
    assert report.kills == 2, summary
    assert all(n > 0 for n in report.acknowledged_by_stretch), summary
    assert report.acknowledged["post"] > 0, summary
    assert report.acknowledged["draft"] > 0, summary
    # Only the separate worker delivers, so every mail and webhook passed through it.
    assert "Delivering from" in (tmp_path / "worker.log").read_text(), summary
    assert report.losses == 0, summary
    assert report.mails_queued_twice == [], summary
    assert report.webhooks_queued_twice == [], summary


def test_clients_retrying_with_idempotency_keys_write_everything_exactly_once(
    database_url: str, tmp_path: Path
) -> None:
    """Retry mode (issue 14): after each SIGKILL the clients retry every unacknowledged write
    with its key until acknowledged: no write is lost, none is written twice."""
    config = small(database_url, tmp_path, seed=11)

    report = run_retrying(config)

    summary = report.summary()
    print(summary)  # the figures, with `pytest -s`
    figures, base = report.figures, report.base
    assert base.kills == 2, summary
    assert all(n > 0 for n in base.acknowledged_by_stretch), summary
    # The kills interrupted writes that were then retried (else nothing was tested).
    assert figures.retries > 0, summary
    assert figures.writes == figures.acknowledged > 0, summary
    assert figures.unacknowledged == [], summary
    assert figures.duplicates == [], summary
    assert figures.missing == [], summary
    assert base.losses == 0, summary
    assert base.mails_queued_twice == [], summary
    assert base.webhooks_queued_twice == [], summary
    # Every write was acknowledged, so no delivery belongs to an unacknowledged one.
    assert (base.unacknowledged_mails, base.unacknowledged_webhooks) == (0, 0), summary
