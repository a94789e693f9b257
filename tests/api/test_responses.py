"""POST /v1/responses and GET /v1/responses[/:ids] (spec 2.9)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.clock import FrozenClock
from missive_server.db.models import Attachment, CannedResponse
from missive_server.ids import new_id
from tests.api.responses_support import (
    NOW,
    PLAIN,
    b64,
    created,
    error,
    hidden_response_ids,
    listed,
    not_found,
    png,
    post,
    responses_of,
    sharing_values,
    stored_response,
    text_file,
)
from tests.api.test_teams import UNAUTHORIZED
from tests.conftest import bearer, count_queries
from tests.factories import UNKNOWN_ID, Factory


def test_create_an_organization_response_with_everything(
    client: TestClient, factory: Factory
) -> None:
    acme = factory.organization()
    me, token = factory.member(acme)
    team = factory.team(acme, active=[me])
    vip, billing = factory.shared_label(acme, "VIP"), factory.shared_label(acme, "Billing")

    [response] = created(
        client,
        token,
        {
            "title": "Welcome",
            "subject": "Hello there",
            "body": '<div>Logo: <img data-missive-attachment-id="logo-img" width="10"></div>',
            "organization": acme.id,
            "share_with_team": team.id,
            "shared_labels": [vip.id, billing.id, vip.id],
            "to_fields": [{"address": "ann@example.com", "name": "Ann"}],
            "cc_fields": {"address": "cc@example.com"},
            "bcc_fields": [],
            "external_id": "template-001",
            "external_source": "knowledge-base",
            "attachments": [
                {"base64_data": b64(png(668, 996)), "filename": "logo.png", "id": "logo-img"},
                {"base64_data": b64(b"%PDF-1.4"), "filename": "terms.pdf", "id": "unused"},
            ],
        },
    )

    logo, terms = response["attachments"]
    base = "http://testserver/_files/"
    assert logo == {
        "id": logo["id"],
        "filename": "logo.png",
        "extension": "png",
        "url": logo["url"],
        "media_type": "image",
        "sub_type": "png",
        "size": len(png(668, 996)),
        "width": 668,
        "height": 996,
    }
    assert terms == {
        "id": terms["id"],
        "filename": "terms.pdf",
        "extension": "pdf",
        "url": terms["url"],
        "media_type": "application",
        "sub_type": "pdf",
        "size": 8,
    }
    assert logo["url"].startswith(f"{base}{logo['id']}/")
    assert logo["url"].endswith("/logo.png")
    assert response == {
        **PLAIN,
        "id": response["id"],
        "title": "Welcome",
        "subject": "Hello there",
        # The temporary id is swapped for the stored attachment's (spec 2.9.3).
        "body": f'<div>Logo: <img data-missive-attachment-id="{logo["id"]}" width="10"></div>',
        "organization": acme.id,
        "share_with_team": team.id,
        "shared_labels": sorted([vip.id, billing.id]),
        "to_fields": [{"name": "Ann", "address": "ann@example.com"}],
        "cc_fields": [{"name": None, "address": "cc@example.com"}],
        "external_id": "template-001",
        "external_source": "knowledge-base",
        "attachments": [logo, terms],
    }
    assert "logo-img" not in response["body"]
    assert listed(client, token) == [response]
    assert client.get(logo["url"]).content == png(668, 996)


def test_create_a_personal_response(client: TestClient, factory: Factory) -> None:
    acme = factory.organization()
    me, token = factory.member(acme)

    [response] = created(client, token, {"title": "Mine", "body": "<p>Thanks</p>", "user": me.id})

    assert response == {
        **PLAIN,
        "id": response["id"],
        "title": "Mine",
        "body": "<p>Thanks</p>",
        "user": me.id,
    }


def test_create_accepts_a_lone_object_and_many(
    client: TestClient, factory: Factory, clock: FrozenClock
) -> None:
    acme = factory.organization()
    me, token = factory.member(acme)

    lone = client.post(
        "/v1/responses",
        headers=bearer(token),
        json={"responses": {"title": "One", "organization": acme.id}},
    )
    clock.advance(1)
    many = created(
        client, token, {"title": "Two", "organization": acme.id}, {"title": "Three", "user": me.id}
    )

    assert lone.status_code == 201
    assert [r["title"] for r in responses_of(lone)] == ["One"]
    assert [r["title"] for r in many] == ["Two", "Three"]
    # Oldest first; responses created in the same second are ordered by id.
    titles = [r["title"] for r in listed(client, token)]
    assert titles[0] == "One"
    assert sorted(titles[1:]) == ["Three", "Two"]


def test_create_is_all_or_nothing(client: TestClient, factory: Factory, session: Session) -> None:
    acme = factory.organization()
    _, token = factory.member(acme)

    response = post(
        client,
        token,
        {"title": "Good", "organization": acme.id, "attachments": [text_file("a.txt")]},
        {"title": "Bad", "organization": acme.id, "shared_labels": [new_id()]},
    )

    assert response.status_code == 404
    assert listed(client, token) == []
    assert session.scalar(select(func.count()).select_from(Attachment)) == 0


def test_inline_ids_are_replaced_only_where_referenced(
    client: TestClient, factory: Factory
) -> None:
    acme = factory.organization()
    _, token = factory.member(acme)
    body = (
        "<p><img data-missive-attachment-id='a&amp;b'>"
        '<img DATA-MISSIVE-ATTACHMENT-ID = "second">'
        '<img data-missive-attachment-id="not-a-file">'
        "<span>second</span></p>"
    )

    [response] = created(
        client,
        token,
        {
            "title": "Inline",
            "organization": acme.id,
            "body": body,
            "attachments": [
                text_file("a.png", "a&b"),
                text_file("b.png", "second"),
                text_file("c.png", "regular"),
            ],
        },
    )

    a, b, c = (f["id"] for f in response["attachments"])
    assert response["body"] == (
        f"<p><img data-missive-attachment-id='{a}'>"
        f'<img DATA-MISSIVE-ATTACHMENT-ID = "{b}">'
        '<img data-missive-attachment-id="not-a-file">'
        "<span>second</span></p>"
    )
    assert c not in response["body"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"title": "x" * 501}, "'responses[0].title' must be at most 500 characters"),
        ({"subject": "x" * 501}, "'responses[0].subject' must be at most 500 characters"),
        ({"title": 7}, "'responses[0].title' must be a string"),
        ({"body": ["x"]}, "'responses[0].body' must be a string"),
        ({"shared_labels": None}, "'responses[0].shared_labels' must not be null"),
        ({"shared_labels": "x"}, "'responses[0].shared_labels' must be an array"),
        ({"to_fields": None}, "'responses[0].to_fields' must not be null"),
        ({"to_fields": ["a@b.test"]}, "'responses[0].to_fields[0]' must be an object"),
        (
            {"cc_fields": [{"address": "ok@example.com"}, {"address": "nope"}]},
            "'responses[0].cc_fields[1].address' must be a valid email address",
        ),
        ({"bcc_fields": [{"name": "X"}]}, "'responses[0].bcc_fields[0].address' is required"),
        ({"external_id": "x" * 256}, "'responses[0].external_id' must be at most 255 characters"),
        ({"external_id": "t-1"}, "'responses[0].external_id' requires 'external_source'"),
        ({"attachments": None}, "'responses[0].attachments' must not be null"),
        (
            {"attachments": [{"filename": "a.txt"}]},
            "'responses[0].attachments[0].base64_data' is required",
        ),
        (
            {"attachments": [{"base64_data": "!!", "filename": "a.txt"}]},
            "'responses[0].attachments[0].base64_data' must be valid base64",
        ),
        (
            {"attachments": [{"base64_data": "", "filename": " "}]},
            "'responses[0].attachments[0].filename' must not be empty",
        ),
        (
            {"attachments": [text_file("a.txt", "")]},
            "'responses[0].attachments[0].id' must not be empty",
        ),
        (
            {
                "attachments": [
                    text_file("a.txt", "img"),
                    text_file("b.txt"),
                    text_file("c.txt", "img"),
                ]
            },
            "'responses[0].attachments' holds the temporary id 'img' more than once",
        ),
        (
            {"attachments": [text_file(f"{i}.txt") for i in range(26)]},
            "'responses[0].attachments' must hold at most 25 files",
        ),
        ({"title": None, "body": None}, "'responses[0]' must have a 'title' or a 'body'"),
    ],
)
def test_create_validation_names_the_field(
    client: TestClient, factory: Factory, change: dict[str, Any], message: str
) -> None:
    acme = factory.organization()
    _, token = factory.member(acme)

    response = post(client, token, {"title": "X", "organization": acme.id, **change})

    assert (response.status_code, response.json()) == (400, error(message))


def test_attachments_total_at_most_10_mb(
    client: TestClient, factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The limit is on decoded bytes; shrunk here so the request stays under the body limit.
    monkeypatch.setattr("missive_server.schemas.canned_responses.MAX_ATTACHMENTS_BYTES", 2 * 2**20)
    acme = factory.organization()
    _, token = factory.member(acme)
    half = b64(b"x" * 2**20)
    files = [{"base64_data": half, "filename": f"{i}.bin"} for i in range(2)]

    fits = post(client, token, {"title": "X", "organization": acme.id, "attachments": files})
    over = post(
        client,
        token,
        {"title": "X", "organization": acme.id, "attachments": [*files, text_file("c.txt")]},
    )

    assert fits.status_code == 201
    assert (over.status_code, over.json()) == (
        400,
        error("'responses[0].attachments' must total at most 2 MB"),
    )


def test_exactly_one_owner_and_only_yourself(client: TestClient, factory: Factory) -> None:
    acme = factory.organization()
    me, token = factory.member(acme)
    colleague = factory.member(acme)[0]

    for item in ({"title": "X"}, {"title": "X", "organization": acme.id, "user": me.id}):
        response = post(client, token, item)
        assert (response.status_code, response.json()) == (
            400,
            error("'responses[0]' must have exactly one of 'organization' or 'user'"),
        )
    for user_id in (colleague.id, new_id()):
        response = post(client, token, {"title": "X", "user": user_id})
        assert (response.status_code, response.json()) == (
            403,
            error(
                "'responses[0].user' must be your own user id: personal responses belong to"
                " the token's user"
            ),
        )


@pytest.mark.parametrize("field", ["share_with_team", "shared_labels"])
def test_sharing_requires_an_organization(client: TestClient, factory: Factory, field: str) -> None:
    acme = factory.organization()
    me, token = factory.member(acme)
    value = sharing_values(factory, acme)

    response = post(client, token, {"title": "X", "user": me.id, field: value[field]})

    assert (response.status_code, response.json()) == (
        400,
        error(f"'responses[0].{field}' requires 'organization'"),
    )


def test_unknown_or_foreign_references_are_404(client: TestClient, factory: Factory) -> None:
    acme, other = factory.organization(), factory.organization("Other")
    _, token = factory.member(acme)
    foreign_label, foreign_team = factory.shared_label(other), factory.team(other)
    hidden = factory.shared_label(acme, "Secret", visibility="delegates")
    unknown = new_id()

    for field, value, message in (
        ("organization", other.id, f"Organization with id '{other.id}' does not exist"),
        ("organization", unknown, f"Organization with id '{unknown}' does not exist"),
        ("share_with_team", foreign_team.id, f"Team with id '{foreign_team.id}' does not exist"),
        ("share_with_team", unknown, f"Team with id '{unknown}' does not exist"),
        (
            "shared_labels",
            [foreign_label.id],
            f"Shared label with id '{foreign_label.id}' does not exist",
        ),
        ("shared_labels", [hidden.id], f"Shared label with id '{hidden.id}' does not exist"),
        ("shared_labels", [unknown], f"Shared label with id '{unknown}' does not exist"),
    ):
        response = post(client, token, {"title": "X", "organization": acme.id, field: value})
        assert (response.status_code, response.json()) == (404, error(message)), field


def test_external_ids_are_unique_per_organization_and_per_user(
    client: TestClient, factory: Factory
) -> None:
    acme, beta = factory.organization("Acme"), factory.organization("Beta")
    me = factory.user(organizations={acme: "user", beta: "user"})
    token = factory.token(me)
    colleague, colleague_token = factory.member(acme)
    key = {"external_source": "kb", "external_id": "t-1"}
    created(client, token, {"title": "A", "organization": acme.id, **key})
    created(client, token, {"title": "Mine", "user": me.id, **key})

    # Same key elsewhere is fine: another organization, another user, another source.
    created(client, token, {"title": "B", "organization": beta.id, **key})
    created(client, colleague_token, {"title": "Theirs", "user": colleague.id, **key})
    created(client, token, {"title": "C", "organization": acme.id, **key, "external_source": "x"})

    taken = "is already used by another response of this"
    for items, message in (
        (
            [{"title": "D", "organization": acme.id, **key}],
            f"'responses[0].external_id' 't-1' {taken} organization with external_source 'kb'",
        ),
        (
            [{"title": "D", "user": me.id, **key}],
            f"'responses[0].external_id' 't-1' {taken} user with external_source 'kb'",
        ),
        (
            [
                {"title": "E", "organization": acme.id, **key, "external_id": "new"},
                {"title": "F", "organization": acme.id, **key, "external_id": "new"},
            ],
            f"'responses[1].external_id' 'new' {taken} organization with external_source 'kb'",
        ),
    ):
        response = post(client, token, *items)
        assert (response.status_code, response.json()) == (400, error(message))
    assert len(listed(client, token)) == 4


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/responses"),
        ("GET", f"/v1/responses/{UNKNOWN_ID}"),
        ("POST", "/v1/responses"),
        ("PATCH", f"/v1/responses/{UNKNOWN_ID}"),
        ("DELETE", f"/v1/responses/{UNKNOWN_ID}"),
    ],
)
def test_missing_or_invalid_token_is_401(client: TestClient, method: str, path: str) -> None:
    item = {"id": path.rsplit("/", 1)[-1], "title": "X", "organization": new_id()}
    for headers in ({}, bearer("missive_pat-nope")):
        json = {"responses": [item]} if method in ("POST", "PATCH") else None
        response = client.request(method, path, headers=headers, json=json)
        assert (response.status_code, response.json()) == (401, UNAUTHORIZED)


# --- GET /v1/responses and /v1/responses/:ids -----------------------------------------------


def test_list_shows_organization_and_own_personal_responses(
    client: TestClient, factory: Factory, session: Session
) -> None:
    acme, beta, other = (factory.organization(n) for n in ("Acme", "Beta", "Other"))
    me = factory.user(organizations={acme: "user", beta: "user"})
    token = factory.token(me)
    colleague = factory.member(acme)[0]
    a = stored_response(session, organization=acme, title="A", created_at=NOW + 3)
    b = stored_response(session, organization=beta, title="B", created_at=NOW + 1)
    mine = stored_response(session, user=me, title="Mine", created_at=NOW + 2)
    stored_response(session, user=colleague, title="Theirs")
    stored_response(session, organization=other, title="Foreign")

    # Oldest first.
    assert [r["id"] for r in listed(client, token)] == [b.id, mine.id, a.id]
    assert [r["id"] for r in listed(client, token, f"organization={acme.id}")] == [a.id]
    response = client.get(f"/v1/responses?organization={other.id}", headers=bearer(token))
    assert (response.status_code, response.json()) == (
        404,
        error(f"Organization with id '{other.id}' does not exist"),
    )


def test_team_responses_are_for_the_team_its_creator_and_admins(
    client: TestClient, factory: Factory, session: Session
) -> None:
    acme = factory.organization()
    member, member_token = factory.member(acme)
    observer, observer_token = factory.member(acme)
    creator, creator_token = factory.member(acme)
    _, outsider_token = factory.member(acme)
    _, admin_token = factory.member(acme, "admin")
    team = factory.team(acme, active=[member], observers=[observer])
    shared = stored_response(
        session, organization=acme, share_with_team_id=team.id, created_by=creator
    )

    for token in (member_token, observer_token, creator_token, admin_token):
        assert [r["id"] for r in listed(client, token)] == [shared.id]
    assert listed(client, outsider_token) == []
    response = client.get(f"/v1/responses/{shared.id}", headers=bearer(outsider_token))
    assert (response.status_code, response.json()) == (404, not_found(shared.id))


def test_get_by_id_is_an_array_of_one(client: TestClient, factory: Factory) -> None:
    acme = factory.organization()
    me, token = factory.member(acme)
    first, second = created(
        client, token, {"title": "A", "organization": acme.id}, {"title": "B", "user": me.id}
    )

    one = client.get(f"/v1/responses/{first['id']}", headers=bearer(token))
    both = client.get(f"/v1/responses/{second['id']},{first['id']}", headers=bearer(token))

    assert (one.status_code, responses_of(one)) == (200, [first])
    assert responses_of(both) == [second, first]


def test_get_unknown_foreign_or_someone_elses_is_404(
    client: TestClient, factory: Factory, session: Session
) -> None:
    acme = factory.organization()
    _, token = factory.member(acme)

    for response_id in hidden_response_ids(factory, session, acme):
        response = client.get(f"/v1/responses/{response_id}", headers=bearer(token))
        assert (response.status_code, response.json()) == (404, not_found(response_id))


def test_list_pagination(client: TestClient, factory: Factory, session: Session) -> None:
    acme = factory.organization()
    _, token = factory.member(acme)
    session.add_all(
        CannedResponse(
            id=new_id(),
            organization_id=acme.id,
            title=f"R{i:03}",
            to_fields=[],
            cc_fields=[],
            bcc_fields=[],
            created_at=NOW + i,
            modified_at=NOW + i,
        )
        for i in range(203)
    )
    session.commit()

    def titles(query: str) -> list[str]:
        return [r["title"] for r in listed(client, token, query)]

    assert titles("") == [f"R{i:03}" for i in range(50)]
    assert len(titles("limit=201")) == 200
    assert titles("limit=2&offset=2") == ["R002", "R003"]
    assert titles("limit=5&offset=201") == ["R201", "R202"]
    assert titles("offset=203") == []
    for query, message in (
        ("limit=0", "min 'limit' value is 1"),
        ("offset=-1", "'offset' must be 0 or more"),
        ("limit=many", "'limit' must be an integer"),
    ):
        response = client.get(f"/v1/responses?{query}", headers=bearer(token))
        assert (response.status_code, response.json()) == (400, error(message))


def test_a_list_page_costs_a_fixed_number_of_queries(
    client: TestClient, factory: Factory, engine: Engine
) -> None:
    acme = factory.organization()
    me, token = factory.member(acme)
    labels = [factory.shared_label(acme, f"L{i}").id for i in range(3)]

    def add(count: int) -> None:
        for i in range(count):
            created(
                client,
                token,
                {
                    "title": f"R{i}",
                    "organization": acme.id,
                    "shared_labels": labels,
                    "attachments": [text_file("a.txt"), text_file("b.txt")],
                },
                {"title": f"P{i}", "user": me.id, "attachments": [text_file("c.txt")]},
            )

    add(1)
    with count_queries(engine) as few:
        assert len(listed(client, token)) == 2
    add(5)
    with count_queries(engine) as many:
        page = listed(client, token)

    assert len(page) == 12
    assert all(len(r["shared_labels"]) == 3 for r in page if r["organization"])
    # responses, their labels, their attachments (the token comes from the token cache)
    assert len(few) == len(many) == 3
