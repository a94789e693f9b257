"""SQL statements per request for the six hot endpoints of issue 7 (performance targets).

Counted in the steady state: the token was used just before, so it comes from the per-process
token cache (`tests/api/test_token_cache.py` pins the one lookup of a cache miss). Each count
is exact so a change that adds a query (an extra lookup, a lazy load, an N+1) fails here and
has to update the number on purpose. List endpoints must cost the same for 5 and 50
results. The counts are the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Engine, event, text
from starlette.testclient import TestClient

from missive_server.clock import FrozenClock
from missive_server.db.models import Organization
from tests.api.contacts_support import setup
from tests.api.drafts_support import email_draft, make_world
from tests.conftest import bearer, count_queries
from tests.factories import Factory

T0 = 1_700_000_000
NOTE = {"title": "A title", "body": "A body"}


def _counted(
    client: TestClient, engine: Engine, method: str, url: str, token: str, **kwargs: Any
) -> tuple[Any, list[str]]:
    assert client.get("/v1/organizations", headers=bearer(token)).status_code == 200
    with count_queries(engine) as statements:
        response = client.request(method, url, headers=bearer(token), **kwargs)
    assert response.status_code in (200, 201), response.text
    return response.json(), list(statements)


def _inbox(factory: Factory, org: Organization, count: int) -> str:
    owner, token = factory.member(org, "owner")
    others = [factory.member(org)[0] for _ in range(2)]
    labels = [factory.shared_label(org, f"L{i}") for i in range(2)]
    team = factory.team(org, active=others[:1])
    for i in range(count):
        factory.conversation(org, users=[owner, *others], labels=labels, team=team, at=T0 + i)
    return token


def test_post_creating_a_conversation(client: TestClient, factory: Factory, engine: Engine) -> None:
    org = factory.organization()
    _, token = factory.member(org)
    body, statements = _counted(
        client,
        engine,
        "POST",
        "/v1/posts",
        token,
        json={"posts": {"notification": NOTE, "text": "Hi", "organization": org.id}},
    )
    assert body["posts"]["id"]
    # the post's own reads and writes in one transaction (the token is cached), the last being
    # its row in the web app's live-update log (web_events), and its words in the search index
    # (one INSERT ... ON CONFLICT DO NOTHING); reopening the new conversation asks nothing more,
    # as its users were just granted in memory
    assert len(statements) == 7, statements


def test_post_to_a_conversation(
    client: TestClient, factory: Factory, engine: Engine, clock: FrozenClock
) -> None:
    org = factory.organization()
    token = _inbox(factory, org, 1)
    listed = client.get("/v1/conversations?all=true", headers=bearer(token)).json()
    conversation_id = listed["conversations"][0]["id"]
    clock.advance(60)  # so the post moves last_activity_at, as every post on a live server does
    post = {"notification": NOTE, "text": "Hi", "conversation": conversation_id}
    body, statements = _counted(client, engine, "POST", "/v1/posts", token, json={"posts": post})
    assert body["posts"]["conversation"] == conversation_id
    # the conversation with the caller's access (one statement), whether anyone has it in
    # Closed (a post reopens it; nobody has, so no user row is loaded), the post, its words,
    # last_activity_at on the conversation's users, labels and row, the live-update log
    assert len(statements) == 8, statements
    assert "EXISTS" in statements[0], statements[0]
    assert "LIMIT" in statements[1], statements[1]
    assert "location" in statements[1], statements[1]


def test_draft_sent_now(client: TestClient, factory: Factory, engine: Engine) -> None:
    world = make_world(factory)
    body, statements = _counted(
        client, engine, "POST", "/v1/drafts", world.token, json={"drafts": email_draft(send=True)}
    )
    assert body["drafts"]["id"]
    # sending now also threads, records the message, the outbox row and the summary (its
    # counts and subjects in one statement, its authors in another), and the outgoing_email
    # event's row in the web app's live-update log (web_events), and the message's words in
    # the search index (one INSERT ... ON CONFLICT DO NOTHING)
    assert len(statements) == 20, statements


def test_inbox_list_costs_the_same_for_5_and_50(
    client: TestClient, factory: Factory, engine: Engine
) -> None:
    small = _inbox(factory, factory.organization("Small"), 5)
    large = _inbox(factory, factory.organization("Large"), 50)
    url = "/v1/conversations?inbox=true&limit=50"
    small_body, small_statements = _counted(client, engine, "GET", url, small)
    large_body, large_statements = _counted(client, engine, "GET", url, large)
    assert (len(small_body["conversations"]), len(large_body["conversations"])) == (5, 50)
    # ids page, conversations, organizations, teams, users, labels, label users
    assert len(small_statements) == 7, small_statements
    # A full page adds exactly one statement, whatever its size: the rows tied with the last
    # row's timestamp (db/paging.py, so `until` never skips), never one per conversation.
    assert len(large_statements) == 8, large_statements
    ids_page = small_statements[0]
    assert [s for s in large_statements if s.startswith(ids_page[:60])] == [
        large_statements[0],
        large_statements[1],
    ]


def test_get_conversation(client: TestClient, factory: Factory, engine: Engine) -> None:
    org = factory.organization()
    token = _inbox(factory, org, 1)
    listed = client.get("/v1/conversations?all=true", headers=bearer(token)).json()
    conversation_id = listed["conversations"][0]["id"]
    body, statements = _counted(
        client, engine, "GET", f"/v1/conversations/{conversation_id}", token
    )
    assert body["conversations"][0]["id"] == conversation_id
    # the conversation with the caller's access in one statement (a correlated EXISTS), then
    # organizations, teams, users, labels, label users
    assert len(statements) == 6, statements
    assert "EXISTS" in statements[0], statements[0]


def test_get_message(client: TestClient, factory: Factory, engine: Engine) -> None:
    world = make_world(factory)
    messages = client.get(
        f"/v1/conversations/{world.conversation.id}/messages", headers=bearer(world.token)
    ).json()["messages"]
    body, statements = _counted(
        client, engine, "GET", f"/v1/messages/{messages[0]['id']}", world.token
    )
    assert body["messages"]["id"] == messages[0]["id"]
    # the message, its conversation with the caller's access (one statement), organizations,
    # users, labels, attachments; an email message's author is not rendered, so not read
    assert len(statements) == 6, statements


def test_contact_search_costs_the_same_for_5_and_50(
    client: TestClient, factory: Factory, engine: Engine
) -> None:
    _, _, token, book = setup(factory)
    counts = []
    for prefix, count in (("five", 5), ("fifty", 50)):
        items = [
            {"contact_book": book.id, "first_name": f"{prefix}{i}", "last_name": "Smith"}
            for i in range(count)
        ]
        response = client.post("/v1/contacts", headers=bearer(token), json={"contacts": items})
        assert response.status_code == 201, response.text
        body, statements = _counted(
            client,
            engine,
            "GET",
            f"/v1/contacts?contact_book={book.id}&search={prefix}&limit=50",
            token,
        )
        assert len(body["contacts"]) == count
        counts.append(len(statements))
    assert counts == [4, 4], counts


def test_inbox_page_query_uses_an_index(
    client: TestClient, factory: Factory, engine: Engine
) -> None:
    """The ids page of the inbox reads conversation_users through (user_id, location,
    last_activity_at): never a scan, so its cost does not grow with the mailbox."""
    token = _inbox(factory, factory.organization(), 5)
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        response = client.get("/v1/conversations?inbox=true&limit=50", headers=bearer(token))
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert response.status_code == 200, response.text
    statement, parameters = next(s for s in seen if "FROM conversation_users" in s[0])
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            plan = " | ".join(row[3] for row in rows)
            assert "SCAN conversation_users" not in plan, plan
            assert re.search(
                r"SEARCH conversation_users USING (?:COVERING )?INDEX \S+ "
                r"\(user_id=\? AND location=\?\)",
                plan,
            ), plan
            assert "USE TEMP B-TREE FOR ORDER BY" not in plan, plan
        else:
            connection.execute(text("ANALYZE"))
            # Five rows: left to itself the planner may read them any way. Without sequential
            # and bitmap scans it shows which index serves the filter and the order, as it does
            # on a large mailbox.
            connection.execute(text("SET enable_seqscan = off"))
            connection.execute(text("SET enable_bitmapscan = off"))
            rows = connection.exec_driver_sql(f"EXPLAIN {statement}", parameters)
            plan = " | ".join(row[0] for row in rows)
            assert "Seq Scan on conversation_users" not in plan, plan
            assert re.search(
                r"Index (?:Only )?Scan (?:Backward )?using \S+ on conversation_users", plan
            ), plan
