"""A search in ``order=last_name`` is paged from ``contact_search_terms`` alone: each term carries
its contact's ``sort_name``, kept in step by every write, and the plan ranks and cuts the page
from the terms' primary key before reading any contact (bench/README.md, issue 13)."""

from __future__ import annotations

import re

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.db.models import Contact, ContactSearchTerm
from missive_server.pagination import OffsetPage
from missive_server.services.contacts import contacts as contacts_service
from tests.api.contacts_support import create, listed, patch, setup
from tests.factories import Factory


def _names(found: list[dict[str, str]]) -> list[str]:
    return [f"{c['first_name']} {c['last_name']}" for c in found]


def _term_sort_names(session: Session, contact_id: str) -> set[str]:
    session.expire_all()
    query = select(ContactSearchTerm.sort_name).where(ContactSearchTerm.contact_id == contact_id)
    return set(session.scalars(query))


def test_a_rename_moves_the_contact_in_search_order(
    client: TestClient, factory: Factory, session: Session
) -> None:
    _, _, token, book = setup(factory)
    made = create(
        client,
        token,
        *(
            {"contact_book": book.id, "first_name": first, "last_name": last, "notes": "vip"}
            for first, last in [("Ann", "Baker"), ("Bob", "Carter"), ("Cid", "Dunn")]
        ),
    )
    search = f"contact_book={book.id}&search=vip"
    assert _names(listed(client, token, search)) == ["Ann Baker", "Bob Carter", "Cid Dunn"]

    dunn = made[2]["id"]
    response = patch(client, token, dunn, {"id": dunn, "last_name": "Able"})
    assert response.status_code == 200, response.text
    assert _term_sort_names(session, dunn) == {"able\x1fcid"}
    assert _names(listed(client, token, search)) == ["Cid Able", "Ann Baker", "Bob Carter"]
    # Pages are cut in the new order; a first name breaks a tie of last names.
    assert _names(listed(client, token, f"{search}&limit=1&offset=1")) == ["Ann Baker"]
    carter = made[1]["id"]
    patch(client, token, carter, {"id": carter, "first_name": "Al", "last_name": "Baker"})
    assert _term_sort_names(session, carter) == {"baker\x1fal"}
    assert _names(listed(client, token, f"{search}&limit=2&offset=1")) == [
        "Al Baker",
        "Ann Baker",
    ]
    assert _names(listed(client, token, f"{search}&limit=2&offset=3")) == []
    # A word of the new name finds the contact, one of the old name no longer does.
    assert _names(listed(client, token, f"contact_book={book.id}&search=able")) == ["Cid Able"]
    assert listed(client, token, f"contact_book={book.id}&search=dunn") == []


def test_every_term_carries_the_contacts_sort_name(
    client: TestClient, factory: Factory, session: Session
) -> None:
    _, _, token, book = setup(factory)
    [made] = create(
        client,
        token,
        {
            "contact_book": book.id,
            "first_name": "Zoë",
            "last_name": "Østergård",
            "infos": [{"kind": "email", "label": "work", "value": "zoe@example.com"}],
        },
    )
    contact = session.get(Contact, made["id"])
    assert contact is not None
    assert _term_sort_names(session, made["id"]) == {contact.sort_name}
    assert (
        len(session.scalars(select(ContactSearchTerm.term).filter_by(contact_id=contact.id)).all())
        > 3
    )


def test_a_first_name_search_is_paged_from_the_terms_index(
    client: TestClient, factory: Factory, engine: Engine
) -> None:
    """The page is ranked by ``(sort_name, contact_id)`` and cut from the terms' primary key
    (an index-only range scan), then only its contacts are read, by primary key: the matching
    contacts are never read or sorted, so a common first name costs its index entries only."""
    _, _, token, book = setup(factory)
    people = [
        {
            "contact_book": book.id,
            "first_name": "Orkara" if i % 3 else "Kaelor",
            "last_name": f"L{i}",
        }
        for i in range(60)
    ]
    create(client, token, *people)
    query = contacts_service.ContactQuery(book_id=book.id, search="orkara")
    stmt = contacts_service.contacts_statement(book.id, query, OffsetPage(limit=5, offset=10))
    sql = str(stmt.compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            rows = list(connection.execute(text(f"EXPLAIN QUERY PLAN {sql}")))
            plan = " | ".join(row[3] for row in rows)
            assert "SCAN contacts" not in plan, plan
            assert "SCAN contact_search_terms" not in plan, plan
            # The page: the terms' key range, grouped and ranked in one sort of index entries.
            page = {row[0] for row in rows if row[3] == "MATERIALIZE matches"}
            inside = [row[3] for row in rows if row[1] in page]
            assert inside == [
                "SEARCH contact_search_terms USING PRIMARY KEY "
                "(contact_book_id=? AND term>? AND term<?)",
                "USE TEMP B-TREE FOR GROUP BY",
            ], plan
            # Then the page's contacts by primary key; SQLite (3.40) cannot carry the page's
            # order out of the subquery, so it orders those few rows again (never the matches).
            outer = [row[3] for row in rows if row[1] == 0]
            assert outer[1:3] == ["SCAN matches", outer[2]], plan
            assert re.fullmatch(r"SEARCH contacts USING INDEX \S+ \(id=\?\)", outer[2]), plan
        else:
            connection.execute(text("ANALYZE"))
            # On a few rows a hash join and a sort of the page is cheapest; forbid it (and scans
            # of whole tables) to see the plan of a large book.
            for setting in ("seqscan", "bitmapscan", "hashjoin", "mergejoin"):
                connection.execute(text(f"SET enable_{setting} = off"))
            lines = [row[0] for row in connection.execute(text(f"EXPLAIN {sql}"))]
            plan = " | ".join(lines)
            # A nested loop over the cut page: contacts read by key, in the page's order, so
            # nothing above the Limit sorts; the one sort ranks the terms' index entries.
            assert lines[0].startswith("Nested Loop"), plan
            limit = next(n for n, line in enumerate(lines) if re.search(r"Limit ", line))
            assert not [line for line in lines[:limit] if "Sort" in line], plan
            keys = [line.strip() for line in lines if "Sort Key" in line]
            assert keys == [
                'Sort Key: contact_search_terms.sort_name COLLATE "C", '
                "contact_search_terms.contact_id"
            ], plan
            terms = r"Index Only Scan using pk_contact_search_terms on contact_search_terms"
            assert len(re.findall(terms, plan)) == 1, plan
            assert re.search(r"Index Scan using pk_contacts on contacts", plan), plan
    found = listed(client, token, f"contact_book={book.id}&search=orkara&limit=5&offset=10")
    expected = sorted(
        (p for p in people if p["first_name"] == "Orkara"), key=lambda p: p["last_name"]
    )
    assert [c["last_name"] for c in found] == [p["last_name"] for p in expected[10:15]]
