"""Crash safety: SIGKILL ``missive-server serve`` while clients write posts and sent drafts,
restart it, and check that nothing acknowledged is lost.

    .venv/bin/python bench/crash_test.py --database-url sqlite:////tmp/crash.db
    .venv/bin/python bench/crash_test.py \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/crash --clients 8 --kills 5
    .venv/bin/python bench/crash_test.py --retry --database-url sqlite:////tmp/crash-retry.db
    .venv/bin/python bench/crash_test.py --serve-workers 2 --separate-worker \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/crash_workers

The database must be empty: the script migrates and seeds it (and refuses one that held an
earlier run). An aiosmtpd relay and an HTTP webhook receiver run
on loopback. The logic is ``tests/crash/support.py``, which ``tests/crash`` runs at small
scale on both backends. Prints a summary; exits 1 on any loss (``--retry``: or any duplicate).
See bench/CRASH.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.crash.retry import run_retrying
from tests.crash.support import CrashConfig, run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="An empty database.")
    parser.add_argument("--clients", type=int, default=4, help="Concurrent writers (4).")
    load = parser.add_mutually_exclusive_group()
    load.add_argument(
        "--duration", type=float, default=20.0, help="Seconds of load, the server up (20)."
    )
    load.add_argument(
        "--writes", type=int, help="Stop after this many acknowledged writes instead."
    )
    parser.add_argument("--kills", type=int, default=3, help="SIGKILLs during the load (3).")
    parser.add_argument("--seed", type=int, help="Random seed of the kill moments.")
    parser.add_argument(
        "--drain-timeout", type=float, default=120.0, help="Seconds to wait for deliveries (120)."
    )
    parser.add_argument("--log-dir", type=Path, help="Keep serve.log here (default: a temp dir).")
    parser.add_argument(
        "--retry",
        action="store_true",
        help="Retry mode: every write carries an Idempotency-Key and is retried until "
        "acknowledged; fails on any duplicate or unacknowledged write.",
    )
    parser.add_argument(
        "--lease-seconds",
        type=int,
        default=5,
        help="MISSIVE_DELIVERY_LEASE_SECONDS of the server (5; production default 120: "
        "then give --drain-timeout above 120).",
    )
    parser.add_argument(
        "--serve-workers",
        type=int,
        default=1,
        help="serve --workers N: a uvicorn master and N processes, killed together (1).",
    )
    parser.add_argument(
        "--separate-worker",
        action="store_true",
        help="Deliver with a separate `missive-server worker` process (MISSIVE_RUN_WORKER=false "
        "for serve), killed with serve: the PostgreSQL deployment.",
    )
    args = parser.parse_args()
    config = CrashConfig(
        database_url=args.database_url,
        clients=args.clients,
        duration=args.duration,
        writes=args.writes,
        kills=args.kills,
        seed=args.seed,
        drain_timeout=args.drain_timeout,
        lease_seconds=args.lease_seconds,
        log_dir=args.log_dir,
        serve_workers=args.serve_workers,
        separate_worker=args.separate_worker,
    )

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    report = run_retrying(config, progress) if args.retry else run(config, progress)
    print(report.summary())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
