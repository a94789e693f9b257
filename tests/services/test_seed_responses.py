"""The ``responses`` section of seed documents, and the demo's canned responses."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.clock import FrozenClock
from missive_server.db.models import CannedResponse
from missive_server.services.seed.demo import DEMO_TOKENS, demo_document
from missive_server.services.seed.seed import seed
from tests.api.responses_support import NOW, PLAIN, b64, png, responses_of
from tests.conftest import bearer
from tests.services.test_seed import ORG, base, error_of, run


def _document(*responses: dict[str, Any]) -> dict[str, Any]:
    labels = [{"name": "Billing", "organization": ORG}]
    return base(shared_labels=labels, responses=list(responses))


TEAM_RESPONSE = {
    "title": "Refund",
    "organization": ORG,
    "share_with_team": "Support",
    "shared_labels": ["Billing"],
    "body": '<img data-missive-attachment-id="logo">',
    "to_fields": [{"address": "ann@example.com", "name": "Ann"}],
    "external_source": "kb",
    "external_id": "refund",
    "attachments": [{"filename": "logo.png", "base64_data": b64(png(4, 3)), "id": "logo"}],
}


def test_seeded_responses_are_served_and_reseeding_creates_nothing(
    client: TestClient, session: Session, clock: FrozenClock
) -> None:
    personal = {"title": "Mine", "user": "bob@acme.test", "body": "<p>Bye</p>"}
    document = _document(TEAM_RESPONSE, personal)

    first = run(session, clock, document)
    again = run(session, clock, document)

    assert first.ids["responses"] == again.ids["responses"]
    assert session.scalar(select(func.count()).select_from(CannedResponse)) == 2
    alice = {"Authorization": f"Bearer {first.tokens['alice@acme.test']}"}
    bob = {"Authorization": f"Bearer {first.tokens['bob@acme.test']}"}
    [refund] = responses_of(client.get("/v1/responses", headers=alice))
    [logo] = refund["attachments"]
    assert refund == {
        **PLAIN,
        "id": first.ids["responses"]["Refund"],
        "title": "Refund",
        "organization": refund["organization"],
        "share_with_team": refund["share_with_team"],
        "shared_labels": [first.ids["shared_labels"]["Billing"]],
        "body": f'<img data-missive-attachment-id="{logo["id"]}">',
        "to_fields": [{"name": "Ann", "address": "ann@example.com"}],
        "external_source": "kb",
        "external_id": "refund",
        "attachments": [logo],
    }
    assert (logo["width"], logo["height"]) == (4, 3)
    # Bob is not in Support: he sees only his own.
    assert [r["title"] for r in responses_of(client.get("/v1/responses", headers=bob))] == ["Mine"]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"title": "X"},
            "responses[0] (X): a response needs exactly one of 'organization' or 'user'",
        ),
        (
            {"title": "X", "user": "bob@acme.test", "shared_labels": ["Billing"]},
            "responses[0] (X): 'share_with_team' and 'shared_labels' need 'organization'",
        ),
        (
            {"title": "X", "organization": ORG, "external_id": "1"},
            "responses[0] (X): 'external_id' needs 'external_source'",
        ),
        (
            {"title": "X", "organization": ORG, "to_fields": [{"name": "No address"}]},
            "responses[0] (X): recipients of a response need an 'address'",
        ),
        (
            {"title": "X", "organization": ORG, "share_with_team": "Sales"},
            "responses[0] (X): share_with_team: no team 'Sales' in 'Acme' in this file or the"
            " database",
        ),
        (
            {"title": "X", "organization": ORG, "shared_labels": ["Nope"]},
            "responses[0] (X): shared_labels: no shared label 'Nope' in 'Acme' in this file or"
            " the database (define parents before their children)",
        ),
        (
            {"title": "X", "user": "nobody@acme.test"},
            "responses[0] (X): user: no user 'nobody@acme.test' in this file or the database",
        ),
    ],
)
def test_seed_errors_name_the_entry(
    session: Session, clock: FrozenClock, entry: dict[str, Any], message: str
) -> None:
    assert error_of(session, clock, _document(entry)) == message


def test_a_taken_external_id_is_a_seed_error(session: Session, clock: FrozenClock) -> None:
    run(session, clock, _document(TEAM_RESPONSE))
    other = {**TEAM_RESPONSE, "title": "Another", "attachments": []}

    assert error_of(session, clock, _document(other)) == (
        "responses[0] (Another): external_id 'refund' (external_source 'kb') is already used"
        " by the response 'Refund'"
    )


def test_the_demo_has_a_team_response_and_a_personal_one(
    client: TestClient, session: Session, clock: FrozenClock
) -> None:
    seed(session, demo_document(clock.now()), now=clock.now())
    session.commit()

    def titles(email: str) -> list[str]:
        found = client.get("/v1/responses", headers=bearer(DEMO_TOKENS[email]))
        return [r["title"] for r in responses_of(found)]

    assert sorted(titles("alice@acme.test")) == ["Refund confirmed", "Thanks, talk soon"]
    assert titles("chloe@acme.test") == ["Refund confirmed"]  # a Support member
    assert titles("bruno@acme.test") == ["Refund confirmed"]  # an observer, and an admin
    [refund] = responses_of(
        client.get("/v1/responses", headers=bearer(DEMO_TOKENS["chloe@acme.test"]))
    )
    assert refund["body"].endswith(
        f'<img data-missive-attachment-id="{refund["attachments"][0]["id"]}" width="64"'
        ' alt="Acme"></p>'
    )
    assert refund["modified_at"] == NOW
