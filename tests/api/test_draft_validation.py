"""POST /v1/drafts validation (spec 2.6.1): every rule, its status and its exact message, and
nothing written when a request is refused."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.db.models import Conversation, Message, OutboxItem
from missive_server.schemas.conversation_actions import COLOR_RULE
from missive_server.services.writing.drafts import (
    FOLLOWUP_NEEDS_SEND_AT,
    NO_RECIPIENT,
    SEND_CONFLICT,
    SENDER_MISMATCH,
)
from tests.api.drafts_support import (
    PNG,
    SMS_NUMBER,
    World,
    b64,
    email_draft,
    error,
    make_world,
    post_draft,
)
from tests.factories import Factory

UNKNOWN = "0b1f7f9e-6c55-4d0a-9e43-6d7c5f0e1a2b"
PHONE_RULE = "must be a phone number: '+' followed by digits, e.g. +18005550199"
PROVIDERS = "'from_field.type' must be one of signalwire, twilio, twilio_whatsapp, whatsapp"
SMS_TO = [{"phone_number": "+13306795612"}]


@pytest.fixture
def world(factory: Factory) -> World:
    return make_world(factory)


def refused(
    client: TestClient, world: World, session: Session, body: Any, status: int, message: str
) -> None:
    before = _rows(session)

    response = post_draft(client, world.token, body)

    assert response.status_code == status, response.json()
    assert response.json() == error(message)
    assert _rows(session) == before


def _rows(session: Session) -> tuple[int, ...]:
    session.expire_all()
    return tuple(
        session.scalar(select(func.count()).select_from(model)) or 0
        for model in (Message, Conversation, OutboxItem)
    )


# --- from_field --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "from_field",
    [
        None,
        {},
        {"name": "Support"},
        {"address": "nobody@acme.test"},
        {"address": ""},
        {"address": 12},
        {"address": "sales@acme.test"},  # an account of the organization not shared with Alice
        {"address": "hi@globex.test"},  # another organization's account
        {"phone_number": "+15550000000"},
        {"phone_number": SMS_NUMBER, "type": "signalwire"},
        {"phone_number": SMS_NUMBER, "type": "whatsapp"},  # the WhatsApp account is Twilio's
    ],
)
def test_from_field_must_be_an_available_sender(
    client: TestClient, world: World, session: Session, from_field: Any
) -> None:
    body = email_draft(from_field=from_field, to_fields=SMS_TO)
    if from_field is None:
        del body["from_field"]
        body["to_fields"] = [{"address": "paul@example.com"}]
    elif "phone_number" not in from_field:
        body["to_fields"] = [{"address": "paul@example.com"}]

    refused(client, world, session, {"drafts": body}, 400, SENDER_MISMATCH)


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"from_field": "support@acme.test"}, 400, "'drafts.from_field' must be an object"),
        (
            {"from_field": {"address": "support@acme.test", "name": 5}},
            400,
            "'from_field.name' must be a string",
        ),
        (
            {"from_field": {"phone_number": "18336856203"}},
            400,
            f"'from_field.phone_number' {PHONE_RULE}",
        ),
        (
            {"from_field": {"phone_number": "+1 833 685 6203"}},
            400,
            f"'from_field.phone_number' {PHONE_RULE}",
        ),
        (
            {"from_field": {"phone_number": 18336856203}},
            400,
            "'from_field.phone_number' must be a string",
        ),
        ({"from_field": {"phone_number": SMS_NUMBER, "type": "sms"}}, 400, PROVIDERS),
        ({"account": UNKNOWN}, 404, f"Account with id '{UNKNOWN}' does not exist"),
        ({"account": 5}, 400, "'drafts.account' must be a string"),
    ],
)
def test_sender_shapes(
    client: TestClient,
    world: World,
    session: Session,
    fields: dict[str, Any],
    status: int,
    message: str,
) -> None:
    body = email_draft(**fields)
    if "phone_number" in str(fields):
        body["to_fields"] = SMS_TO

    refused(client, world, session, {"drafts": body}, status, message)


@pytest.mark.parametrize("which", ["hidden", "foreign"])
def test_accounts_of_others_are_unknown(
    client: TestClient, world: World, session: Session, which: str
) -> None:
    account_id = getattr(world, which).id
    body = email_draft(account=account_id)

    refused(
        client,
        world,
        session,
        {"drafts": body},
        404,
        f"Account with id '{account_id}' does not exist",
    )


def test_an_alias_of_another_account_than_account_is_refused(
    client: TestClient, world: World, session: Session
) -> None:
    body = email_draft(account=world.personal.id, from_field={"address": "help@acme.test"})

    refused(client, world, session, {"drafts": body}, 400, SENDER_MISMATCH)


def test_a_phone_sender_must_be_the_named_account(
    client: TestClient, world: World, session: Session
) -> None:
    body = {
        "account": world.sms.id,
        "from_field": {"phone_number": "+15550000000"},
        "to_fields": SMS_TO,
    }

    refused(client, world, session, {"drafts": body}, 400, SENDER_MISMATCH)


# --- recipients per channel --------------------------------------------------------------------

EMAIL_RULE = "must be a valid email address"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"to_fields": [{"address": "paul"}]}, f"'to_fields[0].address' {EMAIL_RULE}"),
        ({"to_fields": [{"address": "paul@localhost"}]}, f"'to_fields[0].address' {EMAIL_RULE}"),
        ({"to_fields": [{"address": "pa ul@example.com"}]}, f"'to_fields[0].address' {EMAIL_RULE}"),
        ({"to_fields": [{"address": "pål@example.com"}]}, f"'to_fields[0].address' {EMAIL_RULE}"),
        (
            {"to_fields": [{"address": "<paul@example.com>"}]},
            f"'to_fields[0].address' {EMAIL_RULE}",
        ),
        (
            {"to_fields": [{"address": "a@b.c"}, {"name": "x"}]},
            "'to_fields[1].address' is required",
        ),
        ({"to_fields": [{"address": 1}]}, "'to_fields[0].address' must be a string"),
        (
            {"to_fields": [{"address": "a@b.co", "name": []}]},
            "'to_fields[0].name' must be a string",
        ),
        ({"cc_fields": [{"address": "carol"}]}, f"'cc_fields[0].address' {EMAIL_RULE}"),
        ({"bcc_fields": [{}]}, "'bcc_fields[0].address' is required"),
        ({"to_fields": "paul@example.com"}, "'drafts.to_fields' must be an array"),
        ({"to_fields": ["paul@example.com"]}, "'drafts.to_fields[0]' must be an object"),
        ({"cc_fields": 3}, "'drafts.cc_fields' must be an array"),
    ],
)
def test_email_recipients(
    client: TestClient, world: World, session: Session, fields: dict[str, Any], message: str
) -> None:
    refused(client, world, session, {"drafts": email_draft(**fields)}, 400, message)


def test_an_internationalised_domain_is_an_email_address(client: TestClient, world: World) -> None:
    response = post_draft(client, world.token, email_draft(to_fields=[{"address": "a@bücher.de"}]))

    assert response.status_code == 201, response.json()


def channel_body(world: World, channel: str, **fields: Any) -> dict[str, Any]:
    if channel in ("sms", "whatsapp"):
        sender: dict[str, Any] = {"from_field": {"phone_number": SMS_NUMBER, "type": "twilio"}}
        if channel == "whatsapp":
            sender = {"account": world.whatsapp.id}
    else:
        sender = {"account": getattr(world, channel).id}
    return {"body": "Hi", **sender, **fields}


@pytest.mark.parametrize(
    ("channel", "fields", "message"),
    [
        (
            "sms",
            {"to_fields": SMS_TO * 2},
            "'to_fields' must hold exactly one recipient in SMS drafts",
        ),
        (
            "whatsapp",
            {"to_fields": SMS_TO * 2},
            "'to_fields' must hold exactly one recipient in WhatsApp drafts",
        ),
        (
            "sms",
            {"to_fields": [{"phone_number": "13306795612"}]},
            f"'to_fields[0].phone_number' {PHONE_RULE}",
        ),
        ("sms", {"to_fields": [{"address": "a@b.co"}]}, "'to_fields[0].phone_number' is required"),
        (
            "sms",
            {"to_fields": SMS_TO, "cc_fields": [{"address": "a@b.co"}]},
            "'cc_fields' can only be used in email drafts, not SMS ones",
        ),
        (
            "whatsapp",
            {"to_fields": SMS_TO, "bcc_fields": [{"address": "a@b.co"}]},
            "'bcc_fields' can only be used in email drafts, not WhatsApp ones",
        ),
        ("messenger", {"to_fields": [{"name": "Phil"}]}, "'to_fields[0].id' is required"),
        ("messenger", {"to_fields": [{"id": True}]}, "'to_fields[0].id' must be a string"),
        (
            "instagram",
            {"to_fields": [{"id": "1"}], "cc_fields": [{"address": "a@b.co"}]},
            "'cc_fields' can only be used in email drafts, not Instagram ones",
        ),
        (
            "live_chat",
            {"to_fields": [{"id": "1"}, {"id": "2"}]},
            "'to_fields' must hold exactly one recipient in Live Chat drafts",
        ),
        (
            "live_chat",
            {"to_fields": {"username": "phil@acme.com"}},
            "'to_fields[0].id' is required",
        ),
        ("custom", {"to_fields": [{"id": {"x": 1}}]}, "'to_fields[0].id' must be a string"),
        (
            "custom",
            {"to_fields": [{"id": "1", "username": 5}]},
            "'to_fields[0].username' must be a string",
        ),
        (
            "custom",
            {"to_fields": [{"id": "1"}], "bcc_fields": [{"address": "a@b.co"}]},
            "'bcc_fields' can only be used in email drafts, not custom channel ones",
        ),
        ("custom", {"from_field": {"name": 3}}, "'from_field.name' must be a string"),
    ],
)
def test_channel_recipients(
    client: TestClient,
    world: World,
    session: Session,
    channel: str,
    fields: dict[str, Any],
    message: str,
) -> None:
    refused(
        client, world, session, {"drafts": channel_body(world, channel, **fields)}, 400, message
    )


@pytest.mark.parametrize("channel", ["email", "sms", "messenger", "live_chat", "custom"])
@pytest.mark.parametrize("timing", [{"send": True}, {"send_at": 1_800_000_000}])
def test_sending_needs_a_recipient(
    client: TestClient, world: World, session: Session, channel: str, timing: dict[str, Any]
) -> None:
    body = email_draft(to_fields=[]) if channel == "email" else channel_body(world, channel)

    refused(client, world, session, {"drafts": {**body, **timing}}, 400, NO_RECIPIENT)


def test_a_draft_that_is_not_sent_needs_no_recipient(client: TestClient, world: World) -> None:
    for body in (email_draft(to_fields=[]), channel_body(world, "sms")):
        response = post_draft(client, world.token, {"drafts": body})
        assert response.status_code == 201, response.json()


def test_bcc_alone_is_enough_to_send(client: TestClient, world: World) -> None:
    body = email_draft(to_fields=[], bcc_fields=[{"address": "a@b.co"}], send=True)

    assert post_draft(client, world.token, {"drafts": body}).status_code == 201


# --- timing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"send": True, "send_at": 1_800_000_000}, SEND_CONFLICT),
        ({"auto_followup": True}, FOLLOWUP_NEEDS_SEND_AT),
        ({"auto_followup": True, "send": True}, FOLLOWUP_NEEDS_SEND_AT),
        ({"send_at": "1800000000"}, "'drafts.send_at' must be an integer"),
        ({"send_at": True}, "'drafts.send_at' must be an integer"),
        ({"send_at": 1.5}, "'drafts.send_at' must be an integer"),
        ({"send_at": -1}, "'drafts.send_at' must be a Unix timestamp (seconds)"),
        ({"send_at": 1_800_000_000_000}, "'drafts.send_at' must be a Unix timestamp (seconds)"),
        ({"send": "soon"}, "'drafts.send' must be true or false"),
        ({"auto_followup": "yes please"}, "'drafts.auto_followup' must be true or false"),
    ],
)
def test_send_send_at_and_auto_followup(
    client: TestClient, world: World, session: Session, fields: dict[str, Any], message: str
) -> None:
    refused(client, world, session, {"drafts": email_draft(**fields)}, 400, message)


# --- attachments and other fields ----------------------------------------------------------------

FILE = {"base64_data": b64(PNG), "filename": "logo.png"}


@pytest.mark.parametrize(
    ("attachments", "message"),
    [
        ([FILE] * 26, "'drafts.attachments' must hold at most 25 files"),
        ([{"filename": "a.png"}], "'drafts.attachments[0].base64_data' is required"),
        ([FILE, {"base64_data": b64(PNG)}], "'drafts.attachments[1].filename' is required"),
        (
            [FILE, {"base64_data": "not base64!", "filename": "a"}],
            "'drafts.attachments[1].base64_data' must be valid base64",
        ),
        (
            [{"base64_data": "abc", "filename": "a"}],
            "'drafts.attachments[0].base64_data' must be valid base64",
        ),
        (
            [{"base64_data": 12, "filename": "a"}],
            "'drafts.attachments[0].base64_data' must be a string",
        ),
        (
            [{"base64_data": "", "filename": " "}],
            "'drafts.attachments[0].filename' must not be empty",
        ),
        (
            [{"base64_data": "", "filename": "a" * 256}],
            "'drafts.attachments[0].filename' must be at most 255 characters",
        ),
        (
            [{"base64_data": "", "filename": "a." + "x" * 33}],
            "'drafts.attachments[0].filename' must have an extension of at most 32 characters",
        ),
        (FILE, "'drafts.attachments' must be an array"),
    ],
)
def test_attachments(
    client: TestClient, world: World, session: Session, attachments: Any, message: str
) -> None:
    refused(client, world, session, {"drafts": email_draft(attachments=attachments)}, 400, message)


def test_25_attachments_are_accepted(client: TestClient, world: World) -> None:
    files = [{"base64_data": b64(PNG), "filename": f"{i}.png"} for i in range(25)]

    response = post_draft(client, world.token, {"drafts": email_draft(attachments=files)})

    assert response.status_code == 201
    assert len(response.json()["drafts"]["attachments"]) == 25


def test_a_body_over_10_mb_is_refused_with_413(
    client: TestClient, world: World, session: Session
) -> None:
    big = {"base64_data": "A" * (10 * 1024 * 1024), "filename": "big.bin"}

    refused(
        client,
        world,
        session,
        {"drafts": email_draft(attachments=[big])},
        413,
        "Request body is larger than the 10 MB limit",
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"subject": 5}, "'drafts.subject' must be a string"),
        ({"body": ["x"]}, "'drafts.body' must be a string"),
        (
            {"quote_previous_message": "maybe"},
            "'drafts.quote_previous_message' must be true or false",
        ),
        (
            {"add_default_signature": "maybe"},
            "'drafts.add_default_signature' must be true or false",
        ),
        ({"external_response_id": 5}, "'drafts.external_response_id' must be a string"),
        (
            {"external_response_variables": ["a"]},
            "'drafts.external_response_variables' must be an object",
        ),
        (
            {"external_response_variables": {"1": 2}},
            "'drafts.external_response_variables.1' must be a string",
        ),
        ({"references": "<a@b>"}, "'drafts.references' must be an array"),
        ({"conversation": 5}, "'drafts.conversation' must be a string"),
        (
            {"conversation_color": "blue"},
            f"'drafts.conversation_color' {COLOR_RULE}",
        ),
        ({"add_users": ["x"]}, "'organization' is required when using 'add_users'"),
        ({"add_shared_labels": ["x"]}, "'organization' is required when using 'add_shared_labels'"),
        ({"add_to_team_inbox": True}, "'team' is required when using 'add_to_team_inbox'"),
        ({"team": UNKNOWN}, f"Team with id '{UNKNOWN}' does not exist"),
        ({"organization": UNKNOWN}, f"Organization with id '{UNKNOWN}' does not exist"),
        ({"conversation": UNKNOWN}, f"Conversation with id '{UNKNOWN}' does not exist"),
    ],
)
def test_other_fields(
    client: TestClient, world: World, session: Session, fields: dict[str, Any], message: str
) -> None:
    status = 404 if "does not exist" in message else 400

    refused(client, world, session, {"drafts": email_draft(**fields)}, status, message)


def test_a_conversation_of_another_organization_is_unknown(
    client: TestClient, world: World, session: Session, factory: Factory
) -> None:
    globex = factory.organization("Globex")
    gina, _ = factory.member(globex)
    theirs = factory.conversation(globex, users=[gina])

    refused(
        client,
        world,
        session,
        {"drafts": email_draft(conversation=theirs.id)},
        404,
        f"Conversation with id '{theirs.id}' does not exist",
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"drafts": [email_draft()]}, "'drafts' must be an object"),
        ({"drafts": None}, "'drafts' must be an object"),
        ([], "Request body must be a JSON object"),
    ],
)
def test_body_shapes(
    client: TestClient, world: World, session: Session, body: Any, message: str
) -> None:
    refused(client, world, session, body, 400, message)
