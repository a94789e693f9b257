"""PATCH and DELETE /v1/responses/:ids (spec 2.9.4, 2.9.5)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.clock import FrozenClock
from missive_server.db.models import Attachment, CannedResponse, CannedResponseAttachment
from missive_server.ids import new_id
from tests.api.responses_support import (
    NOW,
    b64,
    created,
    delete,
    error,
    hidden_response_ids,
    listed,
    not_found,
    patch,
    patched,
    png,
    responses_of,
    sharing_values,
    stored_response,
    text_file,
)
from tests.factories import UNKNOWN_ID, Factory

MISMATCH = "'responses' must hold exactly one object per id in the path, each with its 'id'"


def _count(session: Session, model: type[Any]) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_patch_is_partial(client: TestClient, factory: Factory, clock: FrozenClock) -> None:
    acme = factory.organization()
    _, token = factory.member(acme)
    label = factory.shared_label(acme)
    [before] = created(
        client,
        token,
        {
            "title": "Welcome",
            "subject": "Hi",
            "body": "<p>Hello</p>",
            "organization": acme.id,
            "shared_labels": [label.id],
            "to_fields": [{"address": "ann@example.com"}],
            "external_source": "kb",
            "external_id": "t-1",
            "attachments": [text_file("a.txt")],
        },
    )
    clock.advance(60)

    response = patch(client, token, before["id"], {"id": before["id"], "title": "Hello!"})

    assert response.status_code == 200
    after = {**before, "title": "Hello!", "modified_at": NOW + 60}
    assert responses_of(response) == [after]
    assert listed(client, token) == [after]


def test_patch_changes_and_clears_fields(client: TestClient, factory: Factory) -> None:
    acme = factory.organization()
    _, token = factory.member(acme)
    team = factory.team(acme)
    old, new = factory.shared_label(acme, "Old"), factory.shared_label(acme, "New")
    [before] = created(
        client,
        token,
        {
            "title": "T",
            "subject": "S",
            "organization": acme.id,
            "share_with_team": team.id,
            "shared_labels": [old.id],
            "cc_fields": [{"address": "cc@example.com"}],
        },
    )

    after = patched(
        client,
        token,
        before["id"],
        {
            "subject": None,
            "body": "<p>B</p>",
            "share_with_team": None,
            "shared_labels": [new.id],
            "cc_fields": [],
            "bcc_fields": [{"address": "bcc@example.com", "name": "B"}],
            "organization": acme.id,  # unchanged: accepted
        },
    )

    assert after == {
        **before,
        "subject": None,
        "body": "<p>B</p>",
        "share_with_team": None,
        "shared_labels": [new.id],
        "cc_fields": [],
        "bcc_fields": [{"name": "B", "address": "bcc@example.com"}],
    }


def test_attachments_replace_the_whole_set(
    client: TestClient, factory: Factory, session: Session
) -> None:
    acme = factory.organization()
    _, token = factory.member(acme)
    [before] = created(
        client,
        token,
        {
            "title": "T",
            "organization": acme.id,
            "attachments": [text_file("a.txt"), text_file("b.txt")],
        },
    )
    old_urls = [a["url"] for a in before["attachments"]]

    after = patched(
        client,
        token,
        before["id"],
        {
            "body": '<p><img data-missive-attachment-id="pic"></p>',
            "attachments": [{"base64_data": b64(png()), "filename": "pic.png", "id": "pic"}],
        },
    )

    [pic] = after["attachments"]
    assert (pic["filename"], pic["width"], pic["height"]) == ("pic.png", 100, 80)
    assert after["body"] == f'<p><img data-missive-attachment-id="{pic["id"]}"></p>'
    assert "pic" not in after["body"].replace(pic["id"], "")
    assert [client.get(url).status_code for url in old_urls] == [404, 404]
    assert (_count(session, Attachment), _count(session, CannedResponseAttachment)) == (1, 1)

    cleared = patched(client, token, before["id"], {"attachments": []})
    assert cleared["attachments"] == []
    assert _count(session, Attachment) == 0


def test_new_temporary_ids_are_linked_in_the_stored_body(
    client: TestClient, factory: Factory
) -> None:
    acme = factory.organization()
    _, token = factory.member(acme)
    [before] = created(
        client,
        token,
        {"title": "T", "organization": acme.id, "body": '<img data-missive-attachment-id="x">'},
    )

    after = patched(client, token, before["id"], {"attachments": [text_file("x.png", "x")]})

    assert after["body"] == f'<img data-missive-attachment-id="{after["attachments"][0]["id"]}">'


def test_batch_patch_matches_path_and_body(client: TestClient, factory: Factory) -> None:
    acme = factory.organization()
    me, token = factory.member(acme)
    first, second = created(
        client, token, {"title": "A", "organization": acme.id}, {"title": "B", "user": me.id}
    )
    a, b = first["id"], second["id"]

    both = patch(client, token, f"{a},{b}", {"id": b, "title": "B2"}, {"id": a, "title": "A2"})

    assert [r["title"] for r in responses_of(both)] == ["A2", "B2"]
    for path, items in (
        (a, [{"id": b, "title": "X"}]),
        (f"{a},{b}", [{"id": a, "title": "X"}]),
        (a, [{"id": a, "title": "X"}, {"id": a, "title": "Y"}]),
        (a, [{"title": "X"}]),
    ):
        response = patch(client, token, path, *items)
        assert (response.status_code, response.json()) == (
            400,
            error(MISMATCH if items[0].get("id") else "'responses[0].id' is required"),
        )
    assert sorted(r["title"] for r in listed(client, token)) == ["A2", "B2"]


def test_batch_patch_is_all_or_nothing(client: TestClient, factory: Factory) -> None:
    acme = factory.organization()
    _, token = factory.member(acme)
    first, second = created(
        client,
        token,
        {"title": "A", "organization": acme.id},
        {"title": "B", "organization": acme.id},
    )

    response = patch(
        client,
        token,
        f"{first['id']},{second['id']}",
        {"id": first["id"], "title": "Changed", "attachments": [text_file("a.txt")]},
        {"id": second["id"], "shared_labels": [new_id()]},
    )

    assert response.status_code == 404
    assert sorted(r["title"] for r in listed(client, token)) == ["A", "B"]
    assert all(r["attachments"] == [] for r in listed(client, token))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"organization": UNKNOWN_ID}, "'responses[0].organization' cannot be changed"),
        ({"organization": None}, "'responses[0].organization' cannot be changed"),
        ({"user": UNKNOWN_ID}, "'responses[0].user' cannot be changed"),
        ({"title": None}, "'responses[0]' must have a 'title' or a 'body'"),
        ({"external_source": None}, "'responses[0].external_id' requires 'external_source'"),
        ({"shared_labels": None}, "'responses[0].shared_labels' must not be null"),
        ({"attachments": None}, "'responses[0].attachments' must not be null"),
        ({"title": "x" * 501}, "'responses[0].title' must be at most 500 characters"),
        (
            {"to_fields": [{"address": "bad"}]},
            "'responses[0].to_fields[0].address' must be a valid email address",
        ),
    ],
)
def test_patch_validation(
    client: TestClient, factory: Factory, change: dict[str, Any], message: str
) -> None:
    acme = factory.organization()
    _, token = factory.member(acme)
    [before] = created(
        client,
        token,
        {"title": "T", "organization": acme.id, "external_source": "kb", "external_id": "1"},
    )

    response = patch(client, token, before["id"], {"id": before["id"], **change})

    assert (response.status_code, response.json()) == (400, error(message))
    assert listed(client, token) == [before]


@pytest.mark.parametrize("field", ["share_with_team", "shared_labels"])
def test_personal_responses_cannot_be_shared(
    client: TestClient, factory: Factory, field: str
) -> None:
    acme = factory.organization()
    me, token = factory.member(acme)
    value = sharing_values(factory, acme)
    [mine] = created(client, token, {"title": "T", "user": me.id})

    response = patch(client, token, mine["id"], {"id": mine["id"], field: value[field]})

    assert (response.status_code, response.json()) == (
        400,
        error(f"'responses[0].{field}' requires 'organization'"),
    )


def test_patch_keeps_external_ids_unique(client: TestClient, factory: Factory) -> None:
    acme = factory.organization()
    _, token = factory.member(acme)
    first, second = created(
        client,
        token,
        {"title": "A", "organization": acme.id, "external_source": "kb", "external_id": "1"},
        {"title": "B", "organization": acme.id, "external_source": "kb", "external_id": "2"},
    )
    a, b = first["id"], second["id"]

    clash = patch(client, token, b, {"id": b, "external_id": "1"})
    swap = patch(
        client, token, f"{a},{b}", {"id": a, "external_id": "2"}, {"id": b, "external_id": "2"}
    )
    same = patch(client, token, a, {"id": a, "external_id": "1", "title": "A2"})
    traded = patch(
        client, token, f"{a},{b}", {"id": a, "external_id": "2"}, {"id": b, "external_id": "1"}
    )

    taken = "is already used by another response of this organization with external_source 'kb'"
    assert (clash.status_code, clash.json()) == (
        400,
        error(f"'responses[0].external_id' '1' {taken}"),
    )
    assert (swap.status_code, swap.json()) == (
        400,
        error(f"'responses[1].external_id' '2' {taken}"),
    )
    assert same.status_code == 200
    assert [r["external_id"] for r in responses_of(traded)] == ["2", "1"]


def test_integration_responses_cannot_be_updated_or_deleted(
    client: TestClient, factory: Factory, session: Session
) -> None:
    acme = factory.organization()
    _, token = factory.member(acme, "owner")
    template = stored_response(session, organization=acme, integration="whatsapp")

    updated = patch(client, token, template.id, {"id": template.id, "title": "X"})
    deleted = delete(client, token, template.id)

    for response, verb in ((updated, "updated"), (deleted, "deleted")):
        assert (response.status_code, response.json()) == (
            400,
            error(
                f"Response with id '{template.id}' was created by an integration (whatsapp)"
                f" and cannot be {verb}"
            ),
        )
    assert [r["title"] for r in listed(client, token)] == ["Stored"]


# --- DELETE /v1/responses/:ids --------------------------------------------------------------


def test_delete_one_or_many(client: TestClient, factory: Factory, session: Session) -> None:
    acme = factory.organization()
    me, token = factory.member(acme)
    _, colleague_token = factory.member(acme)
    a, b, c = created(
        client,
        token,
        {"title": "A", "organization": acme.id, "attachments": [text_file("a.txt")]},
        {"title": "B", "user": me.id, "attachments": [text_file("b.txt")]},
        {"title": "C", "organization": acme.id},
    )

    # Any member may delete an organization response.
    one = delete(client, colleague_token, a["id"])
    many = delete(client, token, f"{b['id']},{c['id']}")

    assert (one.status_code, one.json()) == (200, {})
    assert (many.status_code, many.json()) == (200, {})
    assert listed(client, token) == []
    assert (_count(session, Attachment), _count(session, CannedResponseAttachment)) == (0, 0)
    assert client.get(a["attachments"][0]["url"]).status_code == 404


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_hidden_ids_are_404_and_nothing_changes(
    client: TestClient, factory: Factory, session: Session, method: str
) -> None:
    acme = factory.organization()
    _, token = factory.member(acme)
    [mine] = created(client, token, {"title": "A", "organization": acme.id})

    for response_id in hidden_response_ids(factory, session, acme):
        path = f"{mine['id']},{response_id}"
        if method == "PATCH":
            items = [{"id": mine["id"], "title": "X"}, {"id": response_id, "title": "X"}]
            response = patch(client, token, path, *items)
        else:
            response = delete(client, token, path)
        assert (response.status_code, response.json()) == (404, not_found(response_id))
    assert listed(client, token) == [mine]
    # Mine, another organization's and a colleague's personal one.
    assert _count(session, CannedResponse) == 3
