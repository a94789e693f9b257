"""Contact search under load: 100,000 contacts in one book, the real server, wrk.

    .venv/bin/python bench/contacts_search.py --database-url sqlite:////tmp/contacts.db
    .venv/bin/python bench/contacts_search.py \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/contacts_bench

Generates the book with ``services.bench_data`` (what ``missive-server bench-data`` writes:
bulk inserts, search terms computed by the service's own tokenizer, then ANALYZE),
starts ``missive-server serve`` with ``MISSIVE_RATE_LIMIT=off``, runs wrk with
bench/contacts_search.lua once per kind of query, and prints requests/s, p50 and p99.
Results and the machine they were measured on: bench/README.md.
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import subprocess
import time
import urllib.request
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import Engine, func, select

from missive_server.db import migrate
from missive_server.db.engine import make_engine
from missive_server.db.models import ContactBook
from missive_server.services.seed import bench_data

TOKEN = bench_data.TOKEN
SEED = 100
NOW = 1_700_000_000
BATCH = 5_000
ROOT = Path(__file__).resolve().parent.parent
#: One wrk run per kind: (label, comma-separated searches rotated by the Lua script).
QUERIES = [
    ("first name (~1% of contacts)", "{first0},{first1},{first2}"),
    ("first + last name prefix", "{first0} {last0_3},{first1} {last1_3}"),
    ("whole email address", "{email0},{email1}"),
    ("phone digits", "{phone0},{phone1}"),
    ("company name", "{company0},{company1}"),
    ("no match", "zzqx,qqzz"),
]
console = Console(stderr=True)


def generate(engine: Engine, count: int) -> tuple[str, list[bench_data.Person]]:
    """The bench dataset with ``count`` contacts (and one conversation); returns the book and
    the first people, to build queries from."""
    with Progress(console=console) as progress:
        task = progress.add_task(f"Generating {count:,} contacts", total=count + 1)
        dataset = bench_data.generate(
            engine,
            conversations=1,
            contacts=count,
            seed=SEED,
            progress=lambda done, _total: progress.update(task, completed=done),
        )
    return dataset.contact_book_id, list(itertools.islice(bench_data.people(count, SEED), 10))


def searches(sample: list[bench_data.Person]) -> list[tuple[str, str]]:
    values: dict[str, str] = {}
    for n, p in enumerate(sample[:3]):
        values[f"first{n}"] = p.first.lower()
        values[f"last{n}_3"] = p.last.lower()[:3]
        values[f"email{n}"] = p.email
        values[f"phone{n}"] = re.sub(r"\D", "", p.phone)[1:]
        values[f"company{n}"] = p.company.lower()
    return [(label, template.format(**values)) for label, template in QUERIES]


def serve(url: str, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "MISSIVE_DATABASE_URL": url,
        "MISSIVE_RATE_LIMIT": "off",
        "MISSIVE_RUN_WORKER": "false",
    }
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/missive-server"), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/organizations", timeout=1)
        except urllib.error.HTTPError:
            return server  # 401: the server is up
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("the server did not start")


def run_wrk(port: int, book: str, search: str, duration: int, connections: int) -> dict[str, str]:
    env = {**os.environ, "BOOK": book, "TOKEN": TOKEN, "SEARCHES": search}
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            "-s",
            str(ROOT / "bench/contacts_search.lua"),
            f"http://127.0.0.1:{port}",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = {
        "rps": re.search(r"Requests/sec:\s+([\d.]+)", out),
        "p50": re.search(r"50%\s+(\S+)", out),
        "p99": re.search(r"99%\s+(\S+)", out),
        "errors": re.search(r"Non-2xx or 3xx responses: (\d+)", out),
    }
    return {k: (m.group(1) if m else "0" if k == "errors" else "?") for k, m in found.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--port", type=int, default=8093)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    engine = make_engine(args.database_url)
    migrate.upgrade(engine)
    with engine.connect() as connection:
        if connection.scalar(select(func.count()).select_from(ContactBook)):
            raise SystemExit("the database already holds contact books: use an empty one")
    started = time.perf_counter()
    book, sample = generate(engine, args.count)
    console.print(f"Generated {args.count:,} contacts in {time.perf_counter() - started:.1f}s")
    engine.dispose()
    table = Table(
        "query",
        "searches",
        "requests/s",
        "p50",
        "p99",
        "non-2xx",
        title=f"GET /v1/contacts?search= on {engine.dialect.name}, {args.count:,} contacts",
    )
    server = serve(args.database_url, args.port)
    try:
        for label, search in searches(sample):
            r = run_wrk(args.port, book, search, args.duration, args.connections)
            table.add_row(label, search, r["rps"], r["p50"], r["p99"], r["errors"])
    finally:
        server.terminate()
        server.wait(10)
    Console().print(table)


if __name__ == "__main__":
    main()
