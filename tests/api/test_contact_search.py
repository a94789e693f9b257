"""Search on hundreds of generated contacts, checked against an independent Python oracle,
and the query plans showing the search is an index range scan on both backends."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Engine, text
from starlette.testclient import TestClient

from missive_server.services.contacts import contact_search
from missive_server.services.contacts import contacts as contacts_service
from tests.api.contacts_support import create, listed, setup
from tests.factories import Factory

FIRST = [
    "Alice",
    "Alicia",
    "Bob",
    "Carol",
    "Dave",
    "Eve",
    "Frank",
    "Grace",
    "Heidi",
    "Ivan",
    "Judy",
    "Mallory",
    "Niaj",
    "Olivia",
    "Peggy",
    "Rupert",
    "Sybil",
    "Trent",
    "Victor",
    "Walter",
]
LAST = [
    "Smith",
    "Smithers",
    "Jones",
    "Brown",
    "Taylor",
    "Wilson",
    "Davies",
    "Evans",
    "Thomas",
    "Roberts",
    "Johnson",
    "Lewis",
    "Walker",
    "Robinson",
    "Wood",
    "Thompson",
]
COMPANIES = ["Globex", "Initech", "Umbrella", "Hooli", "Vandelay Industries", "Acme Corp"]
NOTE_WORDS = ["prospect", "renewal", "churn", "vip", "billing", "onboarding", "partner", "lead"]


@dataclass
class Person:
    first: str
    last: str
    email: str
    phone: str
    company: str
    notes: str
    id: str = ""

    def payload(self, book_id: str) -> dict[str, Any]:
        return {
            "contact_book": book_id,
            "first_name": self.first,
            "last_name": self.last,
            "notes": self.notes,
            "infos": [
                {"kind": "email", "label": "work", "value": self.email},
                {"kind": "phone_number", "label": "mobile", "value": self.phone},
            ],
            "memberships": [
                {"title": "Buyer", "group": {"kind": "organization", "name": self.company}}
            ],
        }

    def tokens(self) -> set[str]:
        """The oracle: words of every field, the whole email, the phone's digit groups and all
        its digits with and without the country code."""
        plain = " ".join([self.first, self.last, self.notes, self.company, self.email])
        digits = re.sub(r"\D", "", self.phone)
        groups = set(re.findall(r"\d+", self.phone))
        return (
            set(re.findall(r"\w+", plain.lower()))
            | groups
            | {self.email.lower(), digits, digits[1:]}
        )

    def matches(self, query: str) -> bool:
        return all(any(t.startswith(word) for t in self.tokens()) for word in query.lower().split())


def people(count: int) -> list[Person]:
    rng = random.Random(4)
    found = []
    for i in range(count):
        first, last, company = rng.choice(FIRST), rng.choice(LAST), rng.choice(COMPANIES)
        domain = company.split()[0].lower() + ".test"
        phone = f"+1 ({rng.randint(200, 999)}) {rng.randint(200, 999)}-{i:04d}"
        notes = " ".join(rng.sample(NOTE_WORDS, 2))
        found.append(
            Person(first, last, f"{first}.{last}{i}@{domain}".lower(), phone, company, notes)
        )
    return found


@pytest.fixture
def population(client: TestClient, factory: Factory) -> tuple[str, str, list[Person]]:
    _, _, token, shared = setup(factory)
    crowd = people(360)
    for start in range(0, len(crowd), 120):
        batch = crowd[start : start + 120]
        for person, made in zip(
            batch, create(client, token, *(p.payload(shared.id) for p in batch)), strict=True
        ):
            person.id = made["id"]
    return token, shared.id, crowd


QUERIES = [
    "ali",
    "alice",
    "ali smi",
    "smith",
    "smithers",
    "globex",
    "vandelay ind",
    "hooli churn",
    "carol.jones",
    "initech.test",
    "umbrella.test vip",
    "555",
    "partner lead eve",
    "zzz",
    "robert wal",
]


@pytest.mark.parametrize("order", ["last_name", "last_modified"])
def test_search_results_match_the_oracle(
    client: TestClient, population: tuple[str, str, list[Person]], order: str
) -> None:
    token, book_id, crowd = population
    for query in [*QUERIES, crowd[17].email, crowd[42].phone, crowd[99].phone.split(")")[1]]:
        expected = [p for p in crowd if p.matches(" ".join(contact_search.query_words(query)))]
        if order == "last_name":
            expected.sort(key=lambda p: (f"{p.last.lower()}\x1f{p.first.lower()}", p.id))
        else:  # one batch shares a timestamp: newest first, then by id descending
            expected.sort(key=lambda p: p.id, reverse=True)
        found = []
        for offset in range(0, 400, 200):
            q = f"contact_book={book_id}&order={order}&limit=200&offset={offset}&search={query}"
            found += [c["id"] for c in listed(client, token, q.replace("+", "%2B"))]
        assert found == [p.id for p in expected], query
    assert any(p.matches("ali") for p in crowd)
    assert not any(p.matches("zzz") for p in crowd)


def test_query_words_are_normalised_like_terms() -> None:
    assert contact_search.query_words("  Québec  +1 (518) 777-7777 a@B.test o'brien ") == [
        "quebec",
        "15187777777",
        "a@b.test",
        "o",
        "brien",
    ]
    assert contact_search.email_terms("Jean.Dupont@Mail.Example.com") == {
        "jean.dupont@mail.example.com",
        "jean.dupont",
        "jean",
        "dupont",
        "mail.example.com",
        "mail",
        "example",
        "com",
    }
    assert contact_search.phone_terms("+1 518 777-7777") == {
        "15187777777",
        "1",
        "518",
        "777",
        "7777",
        "5187777777",
    }
    assert contact_search.prefix_upper_bound("abc") == "abd"


def test_search_is_an_index_range_scan(
    engine: Engine, population: tuple[str, str, list[Person]]
) -> None:
    """Driven by the terms (one range scan per word), then contacts by primary key: never a
    scan of the book, which would cost as much when nothing matches."""
    _, book_id, _ = population
    for search in ("ali", "ali smi"):
        query = contacts_service.ContactQuery(book_id=book_id, search=search)
        stmt = contacts_service.contacts_statement(book_id, query).limit(50)
        sql = str(stmt.compile(engine, compile_kwargs={"literal_binds": True}))
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                rows = connection.execute(text(f"EXPLAIN QUERY PLAN {sql}"))
                plan = " | ".join(row[3] for row in rows)
                assert "SCAN contacts" not in plan, plan
                assert "SCAN contact_search_terms" not in plan, plan
                ranges = re.findall(
                    r"SEARCH contact_search_terms USING PRIMARY KEY "
                    r"\(contact_book_id=\? AND term>\? AND term<\?\)",
                    plan,
                )
                assert len(ranges) == len(search.split()), plan
                assert re.search(r"SEARCH contacts USING INDEX \S+ \(id=\?\)", plan), plan
            else:
                connection.execute(text("ANALYZE"))
                # Tiny tables make a sequential scan cheapest; forbid it to see the index is used.
                connection.execute(text("SET enable_seqscan = off"))
                plan = " | ".join(row[0] for row in connection.execute(text(f"EXPLAIN {sql}")))
                assert "Seq Scan on contact_search_terms" not in plan, plan
                pk_scan = r"Index (?:Only )?Scan (?:using|on) pk_contact_search_terms"
                ranges = re.findall(pk_scan, plan)
                assert len(ranges) == len(search.split()), plan
                assert re.search(r"\(?term\)?(?:::text)? >= 'ali'", plan), plan
