"""Contact search under load: 100,000 contacts in one book, the real server, wrk.

    .venv/bin/python bench/contacts_search.py --database-url sqlite:////tmp/contacts.db
    .venv/bin/python bench/contacts_search.py \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/contacts_bench

Generates the book with bulk inserts (search terms computed by the service's own tokenizer),
starts ``missive-server serve`` with ``MISSIVE_RATE_LIMIT=off``, runs wrk with
bench/contacts_search.lua once per kind of query, and prints requests/s, p50 and p99.
Results and the machine they were measured on: bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import Engine, func, insert, select, text

from missive_server.db import migrate
from missive_server.db.engine import make_engine
from missive_server.db.models import (
    Contact,
    ContactBook,
    ContactGroup,
    ContactInfo,
    ContactMembership,
    ContactSearchTerm,
    Membership,
    Organization,
    User,
)
from missive_server.db.models.contacts import TERM_MAX
from missive_server.ids import new_id
from missive_server.services import contact_search, tokens

TOKEN = "missive_pat-bench-contacts-search"
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


def syllable_names(rng: random.Random, count: int, parts: int) -> list[str]:
    syllables = ["ka", "lo", "mi", "ra", "te", "no", "sa", "vi", "de", "lu", "an", "el", "or"]
    names: set[str] = set()
    while len(names) < count:
        names.add("".join(rng.choice(syllables) for _ in range(parts)).title())
    return sorted(names)


def people(count: int) -> Iterator[dict[str, Any]]:
    rng = random.Random(100)
    firsts = syllable_names(rng, 100, 3)
    lasts = syllable_names(rng, 2_000, 4)
    companies = syllable_names(rng, 1_000, 3)
    vocabulary = syllable_names(rng, 400, 3)
    for i in range(count):
        first, last, company = rng.choice(firsts), rng.choice(lasts), rng.choice(companies)
        yield {
            "first": first,
            "last": last,
            "email": f"{first}.{last}{i}@{company}.test".lower(),
            "phone": f"+1 {rng.randint(200, 999)} {rng.randint(200, 999)}-{i % 10_000:04d}",
            "company": company,
            "notes": " ".join(rng.sample(vocabulary, 6)),
        }


def setup_book(engine: Engine) -> str:
    with engine.begin() as connection:
        org, user, book = new_id(), new_id(), new_id()
        connection.execute(insert(Organization).values(id=org, name="Bench", created_at=NOW))
        connection.execute(
            insert(User).values(id=user, email="bench@bench.test", name="Bench", created_at=NOW)
        )
        connection.execute(
            insert(Membership).values(organization_id=org, user_id=user, role="owner")
        )
        connection.execute(
            insert(ContactBook).values(
                id=book,
                organization_id=org,
                user_id=user,
                name="Bench",
                share_with_organization=True,
                created_at=NOW,
            )
        )
    from sqlalchemy.orm import Session

    with Session(engine) as session:
        tokens.issue_token(session, user_id=user, now=NOW, token=TOKEN)
        session.commit()
    return book


def generate(engine: Engine, book: str, count: int) -> list[dict[str, Any]]:
    """Bulk inserts in batches; returns the first people (to build queries from)."""
    groups: dict[str, str] = {}
    sample: list[dict[str, Any]] = []
    rows: dict[str, list[dict[str, Any]]] = {"c": [], "i": [], "m": [], "g": [], "t": []}
    with Progress(console=console) as progress:
        task = progress.add_task(f"Generating {count:,} contacts", total=count)
        for n, person in enumerate(people(count), 1):
            if len(sample) < 10:
                sample.append(person)
            _rows(rows, groups, book, person)
            if n % BATCH == 0 or n == count:
                _flush(engine, rows)
                progress.update(task, completed=n)
    return sample


def _rows(
    rows: dict[str, list[dict[str, Any]]], groups: dict[str, str], book: str, p: dict[str, Any]
) -> None:
    cid = new_id()
    sort_name = f"{contact_search.normalise(p['last'])}\x1f{contact_search.normalise(p['first'])}"
    rows["c"].append(
        {
            "id": cid,
            "contact_book_id": book,
            "first_name": p["first"],
            "last_name": p["last"],
            "notes": p["notes"],
            "starred": False,
            "deleted": False,
            "sort_name": sort_name,
            "created_at": NOW,
            "modified_at": NOW,
        }
    )
    rows["i"].append(
        {
            "id": new_id(),
            "contact_id": cid,
            "position": 0,
            "kind": "email",
            "label": "work",
            "value": p["email"],
            "address": p["email"],
        }
    )
    rows["i"].append(
        {
            "id": new_id(),
            "contact_id": cid,
            "position": 1,
            "kind": "phone_number",
            "label": "mobile",
            "value": p["phone"],
            "address": None,
        }
    )
    if p["company"] not in groups:
        groups[p["company"]] = new_id()
        rows["g"].append(
            {
                "id": groups[p["company"]],
                "contact_book_id": book,
                "kind": "organization",
                "name": p["company"],
                "name_key": p["company"].lower(),
                "created_at": NOW,
            }
        )
    rows["m"].append(
        {
            "id": new_id(),
            "contact_id": cid,
            "group_id": groups[p["company"]],
            "position": 0,
            "title": "Buyer",
        }
    )
    terms = (
        contact_search.words(f"{p['first']} {p['last']} {p['notes']} {p['company']}")
        | contact_search.email_terms(p["email"])
        | contact_search.phone_terms(p["phone"])
    )
    rows["t"] += [{"contact_book_id": book, "term": t[:TERM_MAX], "contact_id": cid} for t in terms]


def _flush(engine: Engine, rows: dict[str, list[dict[str, Any]]]) -> None:
    tables = [
        ("g", ContactGroup),
        ("c", Contact),
        ("i", ContactInfo),
        ("m", ContactMembership),
        ("t", ContactSearchTerm),
    ]
    with engine.begin() as connection:
        for key, model in tables:
            if rows[key]:
                connection.execute(insert(model), rows[key])
                rows[key].clear()


def searches(sample: list[dict[str, Any]]) -> list[tuple[str, str]]:
    values: dict[str, str] = {}
    for n, p in enumerate(sample[:3]):
        values[f"first{n}"] = p["first"].lower()
        values[f"last{n}_3"] = p["last"].lower()[:3]
        values[f"email{n}"] = p["email"]
        values[f"phone{n}"] = re.sub(r"\D", "", p["phone"])[1:]
        values[f"company{n}"] = p["company"].lower()
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
    book = setup_book(engine)
    sample = generate(engine, book, args.count)
    if engine.dialect.name == "postgresql":
        # As autovacuum would in time: statistics, and a visibility map for index-only scans.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
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
    sys.exit(main())
