"""POST /v1/hooks (spec 2.15.1): wire shape, every type and filter, secrets, URL safety."""

from __future__ import annotations

import base64
import logging
from typing import Any

import pytest
from dirty_equals import IsStr
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.db.engine import make_engine
from missive_server.db.models import Hook, User
from missive_server.db.models.hooks import EXTENSION_HOOK_TYPES, HOOK_TYPES
from missive_server.ids import new_id
from missive_server.schemas.hooks import HookCreatedEnvelope
from tests.api.hooks_api_support import URL, configure, create, no_real_dns, post
from tests.api.test_teams import FORBIDDEN, UNAUTHORIZED, error
from tests.factories import Factory

__all__ = ["no_real_dns"]

ALLOW = "set MISSIVE_WEBHOOK_ALLOW_PRIVATE to allow it"
NO_FILTERS: dict[str, Any] = {
    "content_contains": None,
    "content_starts_with": None,
    "content_ends_with": None,
    "is_task": False,
    "author": None,
    "mention": None,
    "from_eq": None,
    "subject_contains": None,
}


def hooks_in(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Hook)) or 0)


def test_personal_hook_minimal_body(client: TestClient, factory: Factory, session: Session) -> None:
    acme = factory.organization()
    alice, token = factory.member(acme)

    response = post(client, token, {"hooks": {"type": "incoming_email", "url": URL}})

    assert response.status_code == 201
    body = response.json()
    HookCreatedEnvelope.model_validate(body)  # the exact wire schema, no extra field
    assert body == {
        "hooks": {
            "id": IsStr(regex=r"^[0-9a-f-]{36}$"),
            "type": "incoming_email",
            "url": URL,
            "description": "Webhook: incoming_email",
            "organization": None,
            "user": alice.id,
            **NO_FILTERS,
            "enabled": True,
            "consecutive_failures": 0,
            "disabled_at": None,
            "created_at": 1_700_000_000,
            "secret": IsStr(regex=r"^whsec_[A-Za-z0-9+/]{43}=$"),
        }
    }
    secret = body["hooks"]["secret"]
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    stored = session.get(Hook, body["hooks"]["id"])
    assert stored is not None
    assert (stored.secret, stored.organization_id, stored.user_id) == (secret, None, alice.id)


def test_generated_secrets_differ(client: TestClient, factory: Factory) -> None:
    _, token = factory.member(factory.organization())
    assert create(client, token)["secret"] != create(client, token)["secret"]


@pytest.mark.parametrize("hook_type", HOOK_TYPES + EXTENSION_HOOK_TYPES)
def test_every_missive_and_extension_type_is_accepted(
    client: TestClient, factory: Factory, hook_type: str
) -> None:
    _, token = factory.member(factory.organization())
    hook = create(client, token, type=hook_type)
    assert (hook["type"], hook["description"]) == (hook_type, f"Webhook: {hook_type}")


def test_organization_new_comment_hook_with_every_filter(
    client: TestClient, factory: Factory, session: Session
) -> None:
    acme = factory.organization()
    admin, token = factory.member(acme, "admin")
    bob = factory.member(acme)[0]
    fields = {
        "organization": acme.id,
        "content_contains": "refund",
        "content_starts_with": "Re: ",
        "content_ends_with": "!",
        "is_task": True,
        "author": bob.id,
        "mention": admin.id,
        "secret": "a-secret-of-my-own-choosing",
        "description": "Notify elfs",
    }

    hook = create(client, token, **fields)

    assert hook == {
        **{k: v for k, v in hook.items() if k in ("id", "created_at", "consecutive_failures")},
        "type": "new_comment",
        "url": URL,
        "user": admin.id,
        **NO_FILTERS,
        **fields,
        "enabled": True,
        "disabled_at": None,
    }
    stored = session.get(Hook, hook["id"])
    assert stored is not None
    assert (stored.author_id, stored.mention_id, stored.is_task) == (bob.id, admin.id, True)


def test_incoming_email_filters(client: TestClient, factory: Factory) -> None:
    _, token = factory.member(factory.organization())
    hook = create(
        client,
        token,
        type="incoming_email",
        from_eq=" Billing@Vendor.Example ",
        subject_contains="Invoice",
        content_contains="total",
    )
    assert (hook["from_eq"], hook["subject_contains"], hook["content_contains"]) == (
        "billing@vendor.example",
        "Invoice",
        "total",
    )


def test_empty_strings_count_as_absent(client: TestClient, factory: Factory) -> None:
    """Form-driven clients (Zapier, n8n) send "" for fields left empty."""
    _, token = factory.member(factory.organization())
    hook = create(
        client,
        token,
        type="incoming_email",
        organization="",
        author="",
        is_task=None,
        content_contains="",
        secret="",
        description=" ",
    )
    assert (hook["organization"], hook["author"], hook["is_task"]) == (None, None, False)
    assert (hook["content_contains"], hook["description"]) == (None, "Webhook: incoming_email")
    assert hook["secret"].startswith("whsec_")


def test_a_standard_webhooks_secret_is_accepted(client: TestClient, factory: Factory) -> None:
    _, token = factory.member(factory.organization())
    secret = "whsec_" + base64.b64encode(b"k" * 24).decode()
    assert create(client, token, secret=secret)["secret"] == secret


def test_the_secret_is_never_logged(
    client: TestClient, factory: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    _, token = factory.member(factory.organization())
    secret = "do-not-log-me-0123456789"
    with caplog.at_level(logging.DEBUG):
        hook = create(client, token, secret=secret, url=URL + "?token=receiver-token")
        generated = create(client, token)["secret"]

    assert hook["secret"] == secret
    assert f"created new_comment hook {hook['id']} to hooks.example.com" in caplog.messages
    for leaked in (secret, generated, "receiver-token"):
        assert leaked not in caplog.text


def test_sql_logging_never_shows_bound_values(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "do-not-log-me-0123456789"
    with caplog.at_level(logging.INFO, logger="sqlalchemy.engine"):
        engine = make_engine(database_url)
        with Session(engine) as db:
            user = User(id=new_id(), email="a@acme.test", name="A", created_at=1)
            db.add(user)
            db.flush()
            db.add(hook_row_values(user.id, secret))
            db.commit()
        engine.dispose()
    assert "INSERT INTO hooks" in caplog.text
    assert secret not in caplog.text


def hook_row_values(user_id: str, secret: str) -> Hook:
    return Hook(
        id=new_id(),
        type="new_comment",
        url=URL,
        secret=secret,
        description="d",
        user_id=user_id,
        is_task=False,
        enabled=True,
        consecutive_failures=0,
        created_at=1,
    )


def test_missing_or_invalid_token_is_401(client: TestClient) -> None:
    body = {"hooks": {"type": "new_comment", "url": URL}}
    assert client.post("/v1/hooks", json=body).json() == UNAUTHORIZED
    response = client.post("/v1/hooks", json=body, headers={"Authorization": "Bearer nope"})
    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)


TYPES = ", ".join(HOOK_TYPES + EXTENSION_HOOK_TYPES)
CONTENT_ONLY = "applies only to hooks of type " + ", ".join(
    (
        *HOOK_TYPES,
        "outgoing_email",
        "outgoing_sms_message",
        "outgoing_whatsapp_message",
        "outgoing_facebook_message",
        "outgoing_twilio_chat_message",
    )
)
COMMENT_ONLY = "applies only to hooks of type new_comment"
EMAIL_ONLY = "applies only to hooks of type incoming_email"
WHSEC = "starting with 'whsec_' must continue with the base64 of 24 to 64 bytes (Standard Webhooks)"
SPACES = "must not contain control characters or surrounding spaces"
NO_CREDENTIALS = (
    "'hooks.url' must not contain credentials (user:password@); "
    "receivers authenticate webhooks by their signature"
)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (None, "Request body is required"),
        ([], "Request body must be a JSON object"),
        ({}, "'hooks' is required"),
        ({"hooks": []}, "'hooks' must be an object"),
        ({"hooks": {"url": URL}}, "'hooks.type' is required"),
        ({"hooks": {"type": "new_email", "url": URL}}, f"'hooks.type' must be one of {TYPES}"),
        ({"hooks": {"type": 3, "url": URL}}, "'hooks.type' must be a string"),
        ({"hooks": {"type": "new_comment"}}, "'hooks.url' is required"),
        ({"hooks": {"type": "new_comment", "url": None}}, "'hooks.url' must be a string"),
        ({"type": "new_comment", "url": URL}, "'hooks' is required"),
    ],
)
def test_malformed_bodies_are_400(
    client: TestClient, factory: Factory, body: Any, message: str
) -> None:
    _, token = factory.member(factory.organization())
    response = post(client, token, body)
    assert (response.status_code, response.json()) == (400, error(message))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"type": "incoming_email", "is_task": True}, COMMENT_ONLY),
        ({"type": "incoming_sms_message", "author": "x"}, COMMENT_ONLY),
        ({"type": "label_change", "mention": "x"}, COMMENT_ONLY),
        ({"from_eq": "a@b.example"}, EMAIL_ONLY),
        ({"subject_contains": "x"}, EMAIL_ONLY),
        ({"type": "label_change", "content_contains": "x"}, CONTENT_ONLY),
        ({"type": "team_change", "content_starts_with": "x"}, CONTENT_ONLY),
        ({"type": "conversation_closed", "content_ends_with": "x"}, CONTENT_ONLY),
        ({"type": "incoming_email", "from_eq": "billing"}, "must be an email address"),
        ({"content_contains": "x" * 1001}, "must be at most 1000 characters"),
        ({"is_task": "maybe"}, "must be true or false"),
        ({"secret": "short"}, "must be 16 to 255 characters"),
        ({"secret": "s" * 256}, "must be 16 to 255 characters"),
        ({"secret": "sixteen-chars-ok\n"}, SPACES),
        ({"secret": " sixteen-chars-ok"}, SPACES),
        ({"secret": "whsec_not-base64-at-all!!"}, WHSEC),
        ({"secret": "whsec_" + base64.b64encode(b"k" * 16).decode()}, WHSEC),
        ({"description": "d" * 256}, "must be at most 255 characters"),
        ({"organization": 42}, "must be a string"),
    ],
)
def test_invalid_fields_are_400_naming_the_field(
    client: TestClient, factory: Factory, session: Session, fields: dict[str, Any], message: str
) -> None:
    _, token = factory.member(factory.organization())
    body = {"type": "new_comment", "url": URL, **fields}
    field = next(name for name in fields if name != "type")

    response = post(client, token, {"hooks": body})

    assert (response.status_code, response.json()) == (400, error(f"'hooks.{field}' {message}"))
    assert hooks_in(session) == 0


def test_is_task_false_is_the_default_not_a_filter(client: TestClient, factory: Factory) -> None:
    _, token = factory.member(factory.organization())
    assert create(client, token, type="incoming_email", is_task=False)["is_task"] is False


def test_unknown_and_foreign_organizations_are_404(client: TestClient, factory: Factory) -> None:
    acme, other = factory.organization("Acme"), factory.organization("Other")
    _, token = factory.member(acme, "owner")
    for organization_id in (new_id(), other.id):
        response = post(
            client,
            token,
            {"hooks": {"type": "new_comment", "url": URL, "organization": organization_id}},
        )
        assert (response.status_code, response.json()) == (
            404,
            error(f"Organization with id '{organization_id}' does not exist"),
        )


def test_organization_hooks_require_an_admin_or_owner(
    client: TestClient, factory: Factory, session: Session
) -> None:
    acme = factory.organization()
    _, member = factory.member(acme, "user")
    _, owner = factory.member(acme, "owner")
    body = {"hooks": {"type": "new_comment", "url": URL, "organization": acme.id}}

    response = post(client, member, body)

    assert (response.status_code, response.json()) == (403, FORBIDDEN)
    assert hooks_in(session) == 0
    assert post(client, owner, body).status_code == 201
    # Personal hooks need no role.
    assert create(client, member)["organization"] is None


@pytest.mark.parametrize("field", ["author", "mention"])
def test_author_and_mention_must_be_users_of_the_organization(
    client: TestClient, factory: Factory, field: str
) -> None:
    acme, other = factory.organization("Acme"), factory.organization("Other")
    _, token = factory.member(acme, "admin")
    outsider = factory.member(other)[0]
    for user_id in (new_id(), outsider.id):
        fields = {"organization": acme.id, field: user_id}
        response = post(client, token, {"hooks": {"type": "new_comment", "url": URL, **fields}})
        assert (response.status_code, response.json()) == (
            404,
            error(f"User with id '{user_id}' does not exist"),
        )


def test_personal_hook_filters_on_the_caller_or_users_sharing_an_organization(
    client: TestClient, factory: Factory
) -> None:
    acme, other = factory.organization("Acme"), factory.organization("Other")
    alice, token = factory.member(acme)
    bob = factory.member(acme)[0]
    outsider = factory.member(other)[0]
    assert create(client, token, author=alice.id.upper())["author"] == alice.id
    assert create(client, token, mention=bob.id)["mention"] == bob.id
    response = post(
        client, token, {"hooks": {"type": "new_comment", "url": URL, "author": outsider.id}}
    )
    assert response.json() == error(f"User with id '{outsider.id}' does not exist")


# --- URL safety ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "https://intranet.example.com/hook",
            "'hooks.url' host 'intranet.example.com' resolves to a private address (10.0.0.5); "
            + ALLOW,
        ),
        (
            "http://169.254.169.254/latest",
            f"'hooks.url' is a cloud metadata address (169.254.169.254); {ALLOW}",
        ),
        ("http://127.0.0.1:9000/", f"'hooks.url' is a loopback address (127.0.0.1); {ALLOW}"),
        ("http://[::1]:9000/", f"'hooks.url' is a loopback address (::1); {ALLOW}"),
        ("http://localhost:9000/", f"'hooks.url' host 'localhost' is a local name; {ALLOW}"),
        (
            "http://metadata.google.internal/",
            f"'hooks.url' host 'metadata.google.internal' is a local name; {ALLOW}",
        ),
        (
            "https://nowhere.example.com/",
            "'hooks.url' host 'nowhere.example.com' does not resolve",
        ),
        ("ftp://hooks.example.com/", "'hooks.url' must be an http:// or https:// URL"),
        ("not a url", "'hooks.url' must be an http:// or https:// URL"),
        ("https://u:p@hooks.example.com/", NO_CREDENTIALS),
    ],
)
def test_unsafe_urls_are_refused_with_a_clear_400(
    client: TestClient, factory: Factory, session: Session, url: str, message: str
) -> None:
    _, token = factory.member(factory.organization())
    response = post(client, token, {"hooks": {"type": "new_comment", "url": url}})
    assert (response.status_code, response.json()) == (400, error(message))
    assert hooks_in(session) == 0


def test_listed_private_addresses_are_allowed(client: TestClient, factory: Factory) -> None:
    _, token = factory.member(factory.organization())
    configure(client, webhook_allow_private=["10.0.0.0/8"])
    assert create(client, token, url="https://intranet.example.com/hook")["url"] == (
        "https://intranet.example.com/hook"
    )
    response = post(client, token, {"hooks": {"type": "new_comment", "url": "http://192.168.1.2/"}})
    assert response.json() == error(f"'hooks.url' is a private address (192.168.1.2); {ALLOW}")
    configure(client, webhook_allow_private=["intranet.example.com"])
    assert create(client, token, url="https://intranet.example.com/other")["id"]


def test_emulator_mode_allows_loopback_receivers(client: TestClient, factory: Factory) -> None:
    _, token = factory.member(factory.organization())
    configure(client, emulator=True)
    for url in ("http://127.0.0.1:9000/hook", "http://[::1]:9000/", "http://localhost:9000/"):
        assert create(client, token, url=url)["url"] == url
    response = post(client, token, {"hooks": {"type": "new_comment", "url": "http://10.0.0.1/"}})
    assert response.json() == error(f"'hooks.url' is a private address (10.0.0.1); {ALLOW}")


def test_the_url_is_checked_after_permissions(client: TestClient, factory: Factory) -> None:
    """A stranger learns nothing about the network: the organization 404 comes first."""
    _, token = factory.member(factory.organization())
    organization_id = new_id()
    body = {"type": "new_comment", "url": "http://10.0.0.1/", "organization": organization_id}
    assert post(client, token, {"hooks": body}).json() == error(
        f"Organization with id '{organization_id}' does not exist"
    )
