"""Conversation search (the web app's /search) on the bench dataset: p50 and p99 per kind of query.

    MISSIVE_DATABASE_URL=sqlite:////tmp/search.db .venv/bin/missive-server bench-data \\
        --conversations 500000
    .venv/bin/python bench/search.py --database-url sqlite:////tmp/search.db

Times, in this process, what ``GET /search?q=`` asks of the database for one page: the search
(``services/web/search.search_conversations``: the plan's counts, the page and its ties, the
conversations), the page's views (``load_views``) and snippets, each in a fresh session as a
request has. Not timed: the sidebar (the inbox's counts, the same on every page) and the
template. Each kind runs ``--runs`` searches, rotating over different values of that kind
(order numbers, last names of the dataset's people), after one untimed warm-up pass.
Results and the machine they were measured on: bench/README.md "Search".
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import time
from collections.abc import Callable

from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from missive_server.auth import Principal
from missive_server.db.engine import make_engine
from missive_server.db.models import Conversation, User
from missive_server.pagination import CursorPage
from missive_server.services.conversations.conversation_views import load_views
from missive_server.services.directory.principals import principal_for_user
from missive_server.services.seed import bench_data
from missive_server.services.web import search

PAGE = 25
#: (label, how to make the n-th query from the dataset's size and a sample of its people).
Kinds = list[tuple[str, Callable[[int, int, list[bench_data.Person]], str]]]
KINDS: Kinds = [
    ("order number (1 conversation)", lambda n, size, _p: f"order {unique(n, size)}"),
    ("number prefix (11-111 conv.)", lambda n, size, _p: f"{(n * 7919) % (size // 10)}"),
    ("last name (~size/2,000)", lambda n, _s, people: people[n % len(people)].last),
    ("sender address", lambda n, _s, people: people[n % len(people)].email),
    ("common word (every one)", lambda n, _s, _p: ["delivery", "question", "hello"][n % 3]),
    ("common prefix", lambda n, _s, _p: ["deliv", "quest", "hel"][n % 3]),
    ("two common words", lambda n, _s, _p: ["hello delivery", "question check"][n % 2]),
    ("common + last name", lambda n, _s, people: f"question {people[n % len(people)].last}"),
    ("no match", lambda n, _s, _p: ["zzqx", "qqzz vvkk"][n % 2]),
]
console = Console(stderr=True)


def unique(n: int, size: int) -> int:
    """An order number no other one starts with (the top decade of the dataset's numbers)."""
    return size // 10 + (n * 7919) % (size - size // 10)


def one_page(
    session: Session, actor: Principal, query: str, until: int | None
) -> tuple[int, float]:
    """What /search asks of the database for one page: the conversations shown, and the
    milliseconds the search itself took (before views and snippets)."""
    started = time.perf_counter()
    page = search.search_conversations(
        session, actor=actor, query=query, page=CursorPage(limit=PAGE, until=until)
    )
    searched = (time.perf_counter() - started) * 1000
    load_views(session, page.conversations, actor=actor)
    search.snippets(session, [c.id for c in page.conversations], query)
    return len(page.conversations), searched


def measure(
    engine: Engine, actor: Principal, queries: list[str], second_page: bool
) -> tuple[list[float], list[float]]:
    """Milliseconds of each whole page and of each search alone."""
    timings, searches = [], []
    for query in queries:
        until = None
        if second_page:
            with Session(engine) as session:
                first = search.search_conversations(
                    session, actor=actor, query=query, page=CursorPage(limit=PAGE, until=None)
                )
                until = first.until
        with Session(engine) as session:
            started = time.perf_counter()
            _, searched = one_page(session, actor, query, until)
            timings.append((time.perf_counter() - started) * 1000)
            searches.append(searched)
    return timings, searches


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--runs", type=int, default=200, help="Searches per kind of query.")
    args = parser.parse_args()
    engine = make_engine(args.database_url)
    with Session(engine) as session:
        owner = session.scalar(select(User.id).where(User.email == bench_data.OWNER_EMAIL))
        if owner is None:
            raise SystemExit("no bench dataset here: run `missive-server bench-data` first")
        size = session.scalar(select(func.count()).select_from(Conversation)) or 0
        actor = principal_for_user(session, owner)
    assert actor is not None
    people = list(itertools.islice(bench_data.people(max(1, size // 10), 7), 500))
    random.Random(1).shuffle(people)
    table = Table(
        "query", "example", "results", "search p50", "search p99", "page p50", "page p99",
        "page max",
        title=f"/search (ms) on {engine.dialect.name}, {size:,} conversations "
        f"({2 * size:,} messages), {args.runs} searches a kind",
    )  # fmt: skip
    kinds = [(label, make, False) for label, make in KINDS]
    kinds.append(("common word, 2nd page", KINDS[4][1], True))
    for label, make, second in kinds:
        queries = [make(n, size, people) for n in range(args.runs)]
        measure(engine, actor, queries[:10], second)  # warm-up
        timings, searches = measure(engine, actor, queries, second)
        with Session(engine) as session:
            shown, _ = one_page(session, actor, queries[0], None)
        table.add_row(
            label, queries[0], str(shown),
            f"{statistics.median(searches):.1f}", f"{percentile(searches, 99):.1f}",
            f"{statistics.median(timings):.1f}", f"{percentile(timings, 99):.1f}",
            f"{max(timings):.1f}",
        )  # fmt: skip
        console.print(f"{label}: done")
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
