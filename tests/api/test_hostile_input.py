"""Hostile input (issue 16, items 3-5): integers past 64 bits, far-future timestamps, NULs and
lone surrogates are refused with 400 on every route, and nothing stored breaks a later read.

The checks live in ``api/input_guard`` (run by ``UnitOfWorkRoute`` for every API route), so a
handful of routes of different shapes prove the rule; the fuzzer (tests/fuzz) covers the rest.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.db.models import Post, Team
from tests.api.contacts_support import setup
from tests.conftest import bearer
from tests.factories import Factory

HUGE = "9" * 30
NOTE = {"title": "T", "body": "B"}


def error(message: str) -> dict[str, Any]:
    return {"error": {"message": message}}


def raw_post(client: TestClient, path: str, token: str, body: str, method: str = "POST") -> Any:
    """Raw JSON text: ``json=`` would re-encode escapes such as ``\\ud800`` differently."""
    headers = {**bearer(token), "Content-Type": "application/json"}
    return client.request(method, path, content=body.encode(), headers=headers)


@pytest.mark.parametrize("value", [HUGE, f"-{HUGE}", str(2**63), str(-(2**63) - 1)])
@pytest.mark.parametrize("name", ["due_at_gteq", "due_at_lteq"])
def test_task_bounds_past_64_bits_are_400(
    client: TestClient, factory: Factory, name: str, value: str
) -> None:
    _, token = factory.member(factory.organization())

    response = client.get(f"/v1/tasks?{name}={value}", headers=bearer(token))

    assert response.status_code == 400
    assert response.json() == error(f"'{name}' is out of range")


def test_the_largest_64_bit_bound_is_accepted(client: TestClient, factory: Factory) -> None:
    _, token = factory.member(factory.organization())

    response = client.get(f"/v1/tasks?due_at_gteq={2**63 - 1}", headers=bearer(token))

    assert response.status_code == 200
    assert response.json() == {"tasks": []}


def test_modified_since_past_64_bits_is_400(client: TestClient, factory: Factory) -> None:
    _, _, token, shared = setup(factory)

    response = client.get(
        f"/v1/contacts?contact_book={shared.id}&modified_since={HUGE}", headers=bearer(token)
    )

    assert response.status_code == 400
    assert response.json() == error("'modified_since' is out of range")


FIELD_OUT_OF_RANGE = "'teams.x[0]' is out of range"
#: Past Python's 4300-digit parsing limit the number has no path: the body does not parse.
BODY_OUT_OF_RANGE = "Request body holds a number that is out of range"


@pytest.mark.parametrize(
    ("number", "message"),
    [
        (HUGE, FIELD_OUT_OF_RANGE),
        (f"-{HUGE}", FIELD_OUT_OF_RANGE),
        ("1e400", FIELD_OUT_OF_RANGE),
        ("1" + "0" * 5000, BODY_OUT_OF_RANGE),
    ],
)
def test_integers_past_64_bits_in_a_body_are_400(
    client: TestClient, factory: Factory, session: Session, number: str, message: str
) -> None:
    org = factory.organization()
    _, token = factory.member(org)
    body = f'{{"teams": {{"name": "Support", "organization": "{org.id}", "x": [{number}]}}}}'

    response = raw_post(client, "/v1/teams", token, body)

    assert response.status_code == 400
    assert response.json() == error(message)
    assert session.scalars(select(Team)).all() == []


def test_a_400_digit_post_timestamp_is_refused_and_the_conversation_still_reads(
    client: TestClient, factory: Factory, session: Session
) -> None:
    org = factory.organization()
    _, token = factory.member(org)
    first = client.post(
        "/v1/posts",
        json={"posts": {"notification": NOTE, "text": "Hi", "organization": org.id}},
        headers=bearer(token),
    )
    conversation = first.json()["posts"]["conversation"]
    body = (
        f'{{"posts": {{"notification": {{"title": "T", "body": "B"}}, "conversation": '
        f'"{conversation}", "attachments": [{{"timestamp": {"9" * 400}}}]}}}}'
    )

    response = raw_post(client, "/v1/posts", token, body)

    assert response.status_code == 400
    assert response.json() == error("'posts.attachments[0].timestamp' is out of range")
    assert len(session.scalars(select(Post)).all()) == 1
    listed = client.get(f"/v1/conversations/{conversation}/posts", headers=bearer(token))
    assert listed.status_code == 200


@pytest.mark.parametrize("timestamp", [253_402_300_800, 2**62, -1])
def test_post_attachment_timestamps_past_year_9999_are_refused(
    client: TestClient, factory: Factory, timestamp: int
) -> None:
    org = factory.organization()
    _, token = factory.member(org)
    block = {"timestamp": timestamp, "text": "x"}

    response = client.post(
        "/v1/posts",
        json={"posts": {"notification": NOTE, "organization": org.id, "attachments": [block]}},
        headers=bearer(token),
    )

    assert response.status_code == 400
    assert response.json() == error(
        "'posts.attachments[0].timestamp' must be a Unix timestamp (seconds)"
    )


BAD_STRINGS = [
    ("\\ud800", "unpaired UTF-16 surrogates"),
    ("a\\udfffb", "unpaired UTF-16 surrogates"),
    ("a\\u0000b", "NUL characters"),
]


@pytest.mark.parametrize(("escaped", "what"), BAD_STRINGS)
def test_unstorable_strings_are_400_on_every_kind_of_write(
    client: TestClient, factory: Factory, session: Session, escaped: str, what: str
) -> None:
    org = factory.organization()
    _, token = factory.member(org, role="admin")
    conversation = client.post(
        "/v1/posts",
        json={"posts": {"notification": NOTE, "text": "Hi", "organization": org.id}},
        headers=bearer(token),
    ).json()["posts"]["conversation"]
    writes = [
        ("POST", "/v1/teams", f'{{"teams": {{"name": "{escaped}", "organization": "{org.id}"}}}}',
         "'teams.name'"),
        ("POST", "/v1/shared_labels",
         f'{{"shared_labels": {{"name": "{escaped}", "organization": "{org.id}"}}}}',
         "'shared_labels.name'"),
        ("POST", "/v1/posts",
         f'{{"posts": {{"notification": {{"title": "{escaped}", "body": "b"}}, '
         f'"organization": "{org.id}", "text": "x"}}}}', "'posts.notification.title'"),
        ("PATCH", f"/v1/conversations/{conversation}",
         f'{{"conversations": {{"subject": "{escaped}"}}}}', "'conversations.subject'"),
        ("POST", "/v1/tasks", f'{{"tasks": {{"title": "{escaped}", "organization": "{org.id}"}}}}',
         "'tasks.title'"),
    ]  # fmt: skip
    for method, path, body, field in writes:
        response = raw_post(client, path, token, body, method)

        assert response.status_code == 400, (path, response.json())
        assert response.json() == error(f"{field} must not contain {what}")
    assert session.scalars(select(Team)).all() == []


def test_a_nul_in_an_attribute_name_is_400(client: TestClient, factory: Factory) -> None:
    org = factory.organization()
    _, token = factory.member(org)

    response = raw_post(client, "/v1/teams", token, '{"teams": {"a\\u0000": 1}}')

    assert response.status_code == 400
    assert response.json() == error("Attribute names in 'teams' must not contain NUL characters")


def test_a_valid_surrogate_pair_is_stored(client: TestClient, factory: Factory) -> None:
    org = factory.organization()
    _, token = factory.member(org, role="admin")
    body = f'{{"teams": {{"name": "\\ud83d\\ude00 team", "organization": "{org.id}"}}}}'

    response = raw_post(client, "/v1/teams", token, body)

    assert response.status_code == 201, response.json()
    assert response.json()["teams"][0]["name"] == "\U0001f600 team"


def test_a_nul_in_the_query_string_is_400(client: TestClient, factory: Factory) -> None:
    _, token = factory.member(factory.organization())

    response = client.get("/v1/tasks?organization=a%00b", headers=bearer(token))

    assert response.status_code == 400
    assert response.json() == error("The URL must not contain NUL characters")
