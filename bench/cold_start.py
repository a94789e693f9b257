"""Cold start of ``missive-server serve`` on an empty database (issue 13: < 1 s to the first 200).

    .venv/bin/python bench/cold_start.py                      # SQLite: a new file per run
    .venv/bin/python bench/cold_start.py \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/cold_start_bench
    # --runs 5 --port 8115 --poll-ms 5 --json bench/results/cold-start-sqlite.json

Each run:
1. Makes an empty database: a new SQLite file in a temporary directory, or, on PostgreSQL, drops
   and creates the database the URL names (it refuses unless the name starts with
   ``cold_start``; the database is dropped again at the end).
2. Spawns ``.venv/bin/missive-server serve --host 127.0.0.1 --port P`` with only
   ``MISSIVE_DATABASE_URL`` set (the defaults otherwise, as deployed: delivery worker thread,
   in-memory rate limits, access log), and polls ``GET /sign-in`` every ``--poll-ms`` ms until
   it answers 200: the one page that answers 200 without a token (the web UI's sign-in form,
   rendered from its template, no database read). There is no health endpoint yet
   (docs/operations.md, "Health check"); ``/v1/*`` answers 401 without a token.
   **ready** = spawn to that 200. From ``serve``'s log, as its lines arrive: **migrated**, the
   line ``serve`` prints after migrating (the interpreter, imports and the migrations), and
   **listening**, uvicorn's ``Uvicorn running on`` (the app built, its lifespan started).
3. The first authenticated request: this script then seeds one organization and one owner with
   a token straight into the database (``services/seed``, what ``missive-server seed`` runs;
   **seed** is its time) and sends ``GET /v1/organizations`` with the token twice: **first
   auth** is the first one's latency (cold statements, caches and token lookup), **second
   auth** the next one's, for comparison. **to auth 200** = spawn to that first authenticated
   200, the seeding included.
4. Reads the server's ``VmRSS`` and ``VmHWM`` (peak) from ``/proc`` and stops it.
5. **migrations alone**: the log cannot tell the migrations from the imports before them, so on
   another empty database a fresh ``python`` imports ``missive_server.db.migrate`` and times
   ``migrate.upgrade`` alone (what ``serve`` runs first).

Prints a table per run and the median (rich), and ``--json``. Seconds are wall time from this
script's ``Popen``: they include the interpreter's start and, on a busy machine, its waits.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, make_url, text

from missive_server.db.engine import make_engine
from missive_server.services.seed import seed as seed_service
from missive_server.services.sessions import session_factory

ROOT = Path(__file__).resolve().parent.parent
READY_PATH = "/sign-in"
AUTH_PATH = "/v1/organizations"
TOKEN = "missive_pat-cold-start"
SEED_DOCUMENT = {
    "organizations": [{"name": "Cold Start"}],
    "users": [
        {
            "email": "owner@cold-start.test",
            "name": "Cold Start Owner",
            "organizations": {"Cold Start": "owner"},
            "token": TOKEN,
        }
    ],
}
#: Times ``migrate.upgrade`` alone in a fresh interpreter (argv[1]: the database URL).
MIGRATE_ALONE = """
import sys, time
from missive_server.db import migrate
from missive_server.db.engine import make_engine
engine = make_engine(sys.argv[1])
began = time.perf_counter()
migrate.upgrade(engine)
print(time.perf_counter() - began)
"""
TIMEOUT_SECONDS = 60
console = Console(stderr=True)


@dataclass
class Run:
    ready: float  # s, spawn -> first 200 on READY_PATH
    migrated: float | None  # s, spawn -> serve's "Missive API v1 on" line
    listening: float | None  # s, spawn -> uvicorn's "Uvicorn running on" line
    seed: float | None  # s, this script seeding a user and token (None with --server-src)
    first_auth: float | None  # ms, the first authenticated request
    second_auth: float | None  # ms, the one after it
    to_auth: float | None  # s, spawn -> first authenticated 200 (seeding included)
    migrations_alone: float  # s, migrate.upgrade in a fresh interpreter
    rss_mb: float  # VmRSS after the two authenticated requests
    peak_rss_mb: float  # VmHWM then


class Log:
    """Timestamps the server's stderr lines as they arrive (rich's console would buffer none)."""

    def __init__(self, stream: Iterator[str], began: float) -> None:
        self.lines: list[tuple[float, str]] = []
        self._thread = threading.Thread(target=self._read, args=(stream, began), daemon=True)
        self._thread.start()

    def _read(self, stream: Iterator[str], began: float) -> None:
        for line in stream:
            self.lines.append((time.perf_counter() - began, line.rstrip()))

    def first(self, pattern: str) -> float | None:
        return next((at for at, line in self.lines if re.search(pattern, line)), None)

    def text(self) -> str:
        return "\n".join(line for _, line in self.lines)


@contextmanager
def empty_database(url: str | None) -> Iterator[str]:
    """A new SQLite file (``url`` None), or the PostgreSQL database ``url`` names, recreated."""
    if url is None:
        with tempfile.TemporaryDirectory(prefix="missive-cold-start-") as directory:
            yield f"sqlite:///{directory}/cold_start.db"
        return
    name = make_url(url).database or ""
    maintenance = create_engine(
        make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    try:
        with maintenance.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            c.execute(text(f'CREATE DATABASE "{name}"'))
        yield url
        with maintenance.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        maintenance.dispose()


def get(port: int, path: str, headers: dict[str, str] | None = None) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def port_is_free(port: int) -> bool:
    try:
        get(port, "/")
    except OSError:
        return True
    return False


def seed(url: str) -> None:
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            document = seed_service.parse_document(SEED_DOCUMENT)
            seed_service.seed(session, document, now=int(time.time()))
            session.commit()
    finally:
        engine.dispose()


def status_mb(pid: int, field: str) -> float:
    found = re.search(rf"^{field}:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M)
    return round(int(found.group(1)) * 1024 / 1e6, 1) if found else float("nan")


def one_run(url: str, port: int, poll: float, server_src: Path | None = None) -> Run:
    python = str(ROOT / ".venv/bin/python")
    env = {**os.environ, "MISSIVE_DATABASE_URL": url, "PYTHONUNBUFFERED": "1"}
    if server_src is not None:  # an older checkout's server (its schema: this seed may not fit)
        env["PYTHONPATH"] = str(server_src)
    argv = [str(ROOT / ".venv/bin/missive-server"), "serve", "--host", "127.0.0.1"]
    began = time.perf_counter()
    server = subprocess.Popen(
        [*argv, "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert server.stderr is not None
    log = Log(server.stderr, began)
    try:
        while True:
            if server.poll() is not None:
                time.sleep(0.2)  # the last lines of the log
                raise SystemExit(f"serve exited with {server.returncode}:\n{log.text()}")
            if time.perf_counter() - began > TIMEOUT_SECONDS:
                raise SystemExit(f"no 200 from {READY_PATH} in {TIMEOUT_SECONDS} s")
            try:
                if get(port, READY_PATH) == 200:
                    break
            except OSError:
                pass
            time.sleep(poll)
        ready = time.perf_counter() - began
        seeding = time.perf_counter()
        if server_src is None:
            seed(url)
        seeded = time.perf_counter()
        latencies: list[float | None] = [None, None]
        to_auth: float | None = None
        for attempt in range(2 if server_src is None else 0):
            sent = time.perf_counter()
            status = get(port, AUTH_PATH, {"Authorization": f"Bearer {TOKEN}"})
            latencies[attempt] = (time.perf_counter() - sent) * 1000
            if status != 200:
                raise SystemExit(f"GET {AUTH_PATH} with the token answered {status}")
            to_auth = to_auth or time.perf_counter() - began
        rss, peak = status_mb(server.pid, "VmRSS"), status_mb(server.pid, "VmHWM")
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    migrated = log.first(r"^Missive API v1 on")
    listening = log.first(r"Uvicorn running on")
    # The server is stopped: on PostgreSQL its database is recreated empty once more.
    with empty_database(url if url.startswith("postgresql") else None) as fresh:
        alone = subprocess.run(
            [python, "-c", MIGRATE_ALONE, fresh],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
    return Run(
        ready=round(ready, 3),
        migrated=round(migrated, 3) if migrated is not None else None,
        listening=round(listening, 3) if listening is not None else None,
        seed=round(seeded - seeding, 3) if server_src is None else None,
        first_auth=None if latencies[0] is None else round(latencies[0], 1),
        second_auth=None if latencies[1] is None else round(latencies[1], 1),
        to_auth=None if to_auth is None else round(to_auth, 3),
        migrations_alone=round(float(alone.stdout.split()[-1]), 3),
        rss_mb=rss,
        peak_rss_mb=peak,
    )


def median(runs: list[Run]) -> dict[str, float | None]:
    middle: dict[str, float | None] = {}
    for f in fields(Run):
        values = [v for r in runs if (v := getattr(r, f.name)) is not None]
        middle[f.name] = round(statistics.median(values), 3) if values else None
    return middle


COLUMNS = [  # (field, header, format)
    ("ready", "first 200 (s)", "{:.3f}"),
    ("migrated", "log: migrated (s)", "{:.3f}"),
    ("listening", "log: listening (s)", "{:.3f}"),
    ("migrations_alone", "migrations alone (s)", "{:.3f}"),
    ("seed", "seed (s)", "{:.3f}"),
    ("first_auth", "first auth (ms)", "{:.1f}"),
    ("second_auth", "second auth (ms)", "{:.1f}"),
    ("to_auth", "to auth 200 (s)", "{:.3f}"),
    ("rss_mb", "RSS (MB)", "{:.0f}"),
    ("peak_rss_mb", "peak RSS (MB)", "{:.0f}"),
]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL database named cold_start* to drop and create (default: SQLite files)",
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--port", type=int, default=8115)
    parser.add_argument("--poll-ms", type=float, default=5, help="between two probes")
    parser.add_argument("--json", type=Path, help="also write the runs and the median here")
    parser.add_argument(
        "--server-src",
        type=Path,
        help="serve (and the migrations alone) from this src directory (an older checkout's, "
        "for a before/after); the authenticated requests are left out",
    )
    args = parser.parse_args()
    url: str | None = args.database_url
    if url is not None:
        parsed = make_url(url)
        if parsed.get_backend_name() != "postgresql":
            parser.error("--database-url is for PostgreSQL; SQLite uses a new file by default")
        if not (parsed.database or "").startswith("cold_start"):
            parser.error(f"refusing to drop {parsed.database!r}: the name must start cold_start")
    if not port_is_free(args.port):
        parser.error(f"something answers on port {args.port} already: --port")

    runs: list[Run] = []
    for number in range(1, args.runs + 1):
        with empty_database(url) as fresh:
            runs.append(one_run(fresh, args.port, args.poll_ms / 1000, args.server_src))
        console.print(f"run {number}: first 200 after {runs[-1].ready:.3f} s")

    backend = "PostgreSQL" if url else "SQLite"
    load = Path("/proc/loadavg").read_text().split()[0]
    table = Table(title=f"serve on an empty {backend} database, load average {load}")
    table.add_column("run")
    for _, header, _ in COLUMNS:
        table.add_column(header, justify="right")
    middle = median(runs)
    rows = [(str(n), asdict(r)) for n, r in enumerate(runs, 1)] + [("median", middle)]
    for label, values in rows:
        cells = [
            "—" if values[name] is None else fmt.format(values[name]) for name, _, fmt in COLUMNS
        ]
        table.add_row(label, *cells, style="bold" if label == "median" else None)
    Console(width=200).print(table)
    if args.json:
        document = {
            "database": backend,
            "ready_path": READY_PATH,
            "load": load,
            "runs": [asdict(r) for r in runs],
            "median": middle,
        }
        args.json.write_text(json.dumps(document, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
