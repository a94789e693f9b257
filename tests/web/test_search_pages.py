"""The search page: the box on every page, /search results (subject, participants, snippet,
link), the "More" cursor, visibility, and hostile queries (400 or empty, echoed escaped)."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import pytest
from starlette.testclient import TestClient

from missive_server.db.models import Conversation, Organization, User
from missive_server.services.conversations.messages import MessageInput
from tests.factories import Factory
from tests.web.support import post_sign_in

T0 = 1_700_000_000


@dataclass
class World:
    org: Organization
    alice: User
    refund: Conversation
    hidden: Conversation


def mail(subject: str, body: str, at: int) -> MessageInput:
    return MessageInput(
        subject=subject,
        body=body,
        delivered_at=at,
        from_field={"name": "Zoë Quill", "address": "zoe@quill.test"},
        to_fields=[{"name": "Support", "address": "support@acme.test"}],
    )


@pytest.fixture
def world(factory: Factory, client: TestClient) -> World:
    org = factory.organization("Acme")
    alice = factory.user("alice@acme.test", organizations={org: "user"})
    bob = factory.user("bob@acme.test", organizations={org: "user"})
    refund = factory.conversation(
        org,
        users=[alice],
        at=T0,
        messages=[mail("Refund please", "<p>The parcel <b>arrived</b> broken.</p>", T0)],
    )
    hidden = factory.conversation(
        org, users=[bob], at=T0, messages=[mail("Refund for Bob", "<p>Bob's parcel</p>", T0)]
    )
    assert post_sign_in(client, token=factory.token(alice)).status_code == 303
    return World(org, alice, refund, hidden)


def conversation_links(page: str) -> list[str]:
    return re.findall(r'href="/c/([0-9a-f-]{36})"', page)


def test_signed_out_search_redirects_to_sign_in(client: TestClient) -> None:
    response = client.get("/search?q=refund", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in"


def test_every_page_has_the_search_box(client: TestClient, world: World) -> None:
    for path in ("/", "/m/closed", f"/c/{world.refund.id}", "/search"):
        page = client.get(path).text
        assert '<form class="search" role="search" action="/search" method="get">' in page, path
        assert '<label class="sr" for="search-q">Search conversations</label>' in page


def test_results_show_subject_participants_snippet_and_link(
    client: TestClient, world: World
) -> None:
    response = client.get("/search", params={"q": "parcel arriv"})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    page = response.text
    assert conversation_links(page) == [world.refund.id]
    assert '<span class="subject">Refund please</span>' in page
    assert '<span class="participants">Zoë Quill &lt;zoe@quill.test&gt;</span>' in page
    assert '<span class="preview snippet">The <mark>parcel</mark> arrived broken.</span>' in page
    assert 'value="parcel arriv"' in page
    assert "<title>Search · missive-server</title>" in page


def test_a_conversation_the_user_cannot_see_is_never_shown(
    client: TestClient, world: World
) -> None:
    page = client.get("/search", params={"q": "refund"}).text
    assert conversation_links(page) == [world.refund.id]
    assert world.hidden.id not in page
    assert "No conversation matches." in client.get("/search", params={"q": "bob"}).text


def test_more_pages_through_the_results_with_until(
    client: TestClient, factory: Factory, world: World
) -> None:
    made = [
        factory.conversation(
            world.org,
            users=[world.alice],
            at=T0 + 100 + i,
            messages=[mail(f"Invoice {i}", "<p>Invoice attached</p>", T0)],
        ).id
        for i in range(30)
    ]
    first = client.get("/search", params={"q": "invoice"}).text
    assert conversation_links(first) == made[::-1][:25]
    more = re.search(r'<a class="button" href="([^"]+)">More</a>', first)
    assert more is not None
    assert html.unescape(more.group(1)) == f"/search?q=invoice&until={T0 + 100 + 5 - 1}"
    second = client.get(html.unescape(more.group(1))).text
    assert conversation_links(second) == made[::-1][25:]
    assert ">More</a>" not in second


def test_the_query_is_echoed_escaped(client: TestClient, world: World) -> None:
    query = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    page = client.get("/search", params={"q": query}).text
    assert "<script>alert(1)" not in page
    assert "<img src=x" not in page
    assert (
        "&lt;script&gt;alert(1)&lt;/script&gt;&#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in page
    )
    assert "No conversation matches." in page


@pytest.mark.parametrize(
    "raw_query",
    ["q=%25", "q=_", "q=%5C", "q=%25_%5C%27", "q=%ED%A0%80", "q=%F0%9F%98%80", "q=", "q=%25%25"],
)
def test_hostile_queries_are_empty_results(
    client: TestClient, world: World, raw_query: str
) -> None:
    response = client.get(f"/search?{raw_query}")
    assert response.status_code == 200
    assert conversation_links(response.text) == []


def test_refun_with_metacharacters_still_finds_by_its_words(
    client: TestClient, world: World
) -> None:
    page = client.get("/search?q=%25refun%25%5C%27").text
    assert conversation_links(page) == [world.refund.id]


def test_a_nul_in_the_query_is_a_400(client: TestClient, world: World) -> None:
    # The URL guard every route shares (api/middleware.RequestGuard): PostgreSQL text has no NUL.
    response = client.get("/search?q=refund%00")
    assert response.status_code == 400
    assert response.json() == {"error": {"message": "The URL must not contain NUL characters"}}


def test_a_query_too_long_is_a_400_with_the_page(client: TestClient, world: World) -> None:
    response = client.get("/search", params={"q": "refund " * 2_000})
    assert response.status_code == 400
    assert "A search is at most 1000 characters" in response.text
    assert conversation_links(response.text) == []


@pytest.mark.parametrize("until", ["99999999999999999999999", "-5", "abc", "1e9"])
def test_a_hostile_until_is_ignored(client: TestClient, world: World, until: str) -> None:
    response = client.get("/search", params={"q": "refund", "until": until})
    assert response.status_code == 200
    assert conversation_links(response.text) == [world.refund.id]
