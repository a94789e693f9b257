"""Builders for the draft tests: accounts of every channel (no factory has them) and a world."""

from __future__ import annotations

import base64
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.db.models import (
    Account,
    AccountAlias,
    AccountUser,
    Conversation,
    Organization,
    OutboxItem,
    Team,
    User,
)
from missive_server.ids import new_id
from missive_server.services.conversations.messages import MessageInput
from tests.conftest import bearer
from tests.factories import Factory

T0 = 1_700_000_000
FIRST_ID = "<first@example.com>"
ROOT_ID = "<root@example.com>"
#: A PNG header claiming 2x1 pixels.
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + struct.pack(">II", 2, 1) + b"\x08\x06\x00\x00\x00"
PDF = b"%PDF-1.4\n%%EOF\n"
SMS_NUMBER = "+18336856203"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def account(
    session: Session,
    kind: str,
    name: str,
    *,
    org: Organization | None = None,
    team: Team | None = None,
    owner: User | None = None,
    users: Sequence[User] = (),
    address: str | None = None,
    phone_number: str | None = None,
    provider: str | None = None,
    message_type: str | None = None,
    aliases: Sequence[tuple[str, str | None]] = (),
) -> Account:
    row = Account(
        id=new_id(),
        type=kind,
        name=name,
        organization_id=org.id if org else None,
        team_id=team.id if team else None,
        owner_id=owner.id if owner else None,
        address=address,
        phone_number=phone_number,
        provider=provider,
        message_type=message_type,
        created_at=T0,
    )
    session.add(row)
    session.flush()
    session.add_all(AccountUser(account_id=row.id, user_id=u.id) for u in users)
    session.add_all(
        AccountAlias(id=new_id(), account_id=row.id, address=a, name=n) for a, n in aliases
    )
    session.commit()
    return row


@dataclass
class World:
    org: Organization
    alice: User
    bob: User
    token: str
    bob_token: str
    team: Team
    support: Account
    personal: Account
    hidden: Account
    foreign: Account
    sms: Account
    whatsapp: Account
    messenger: Account
    instagram: Account
    live_chat: Account
    custom: Account
    custom_html: Account
    conversation: Conversation


def make_world(factory: Factory) -> World:
    session = factory.session
    org = factory.organization("Acme")
    alice = factory.user("alice@acme.test", "Alice Liddell", organizations={org: "user"})
    bob = factory.user("bob@acme.test", "Bob", organizations={org: "user"})
    globex = factory.organization("Globex")
    gina = factory.user("gina@globex.test", organizations={globex: "owner"})
    team = factory.team(org, "Support", active=[bob])
    shared = {"org": org, "users": [alice]}
    first = MessageInput(
        subject="Help",
        body="<div>My order <b>#12</b> is late</div>",
        delivered_at=T0 - 7200,
        from_field={"name": "Sam", "address": "sam@example.com"},
        to_fields=[{"name": None, "address": "support@acme.test"}],
        email_message_id=FIRST_ID,
        references=[ROOT_ID],
    )
    return World(
        org=org,
        alice=alice,
        bob=bob,
        token=factory.token(alice),
        bob_token=factory.token(bob),
        team=team,
        support=account(
            session,
            "email",
            "Acme Support",
            address="support@acme.test",
            aliases=[("help@acme.test", "Help Desk"), ("billing@acme.test", None)],
            **shared,
        ),
        personal=account(
            session, "email", "alice@acme.test", address="alice@acme.test", owner=alice
        ),
        hidden=account(session, "email", "Sales", org=org, address="sales@acme.test", users=[bob]),
        foreign=account(
            session, "email", "Globex", org=globex, address="hi@globex.test", users=[gina]
        ),
        sms=account(
            session, "sms", "Acme SMS", phone_number=SMS_NUMBER, provider="twilio", **shared
        ),
        whatsapp=account(
            session,
            "whatsapp",
            "Acme WhatsApp",
            phone_number=SMS_NUMBER,
            provider="twilio_whatsapp",
            **shared,
        ),
        messenger=account(session, "messenger", "Acme Messenger", **shared),
        instagram=account(session, "instagram", "Acme Instagram", **shared),
        live_chat=account(session, "live_chat", "Acme Chat", **shared),
        custom=account(session, "custom", "Acme Custom", message_type="custom_text", **shared),
        custom_html=account(session, "custom", "Acme HTML", message_type="custom_html", **shared),
        conversation=factory.conversation(org, users=[alice], at=T0 - 7200, messages=[first]),
    )


def post_draft(client: TestClient, token: str, body: Any) -> Any:
    return client.post("/v1/drafts", json=body, headers=bearer(token))


def email_draft(**fields: Any) -> dict[str, Any]:
    return {
        "subject": "Hello",
        "body": "<div>World!</div>",
        "from_field": {"address": "support@acme.test"},
        "to_fields": [{"address": "paul@example.com", "name": "Paul"}],
        **fields,
    }


def created(client: TestClient, token: str, **fields: Any) -> dict[str, Any]:
    response = post_draft(client, token, {"drafts": email_draft(**fields)})
    assert response.status_code == 201, response.json()
    draft: dict[str, Any] = response.json()["drafts"]
    return draft


def get_conversation(client: TestClient, token: str, cid: str) -> dict[str, Any]:
    response = client.get(f"/v1/conversations/{cid}", headers=bearer(token))
    assert response.status_code == 200, response.json()
    found: dict[str, Any] = response.json()["conversations"][0]
    return found


def get_message(client: TestClient, token: str, mid: str) -> dict[str, Any]:
    response = client.get(f"/v1/messages/{mid}", headers=bearer(token))
    assert response.status_code == 200, response.json()
    found: dict[str, Any] = response.json()["messages"]
    return found


def outbox_rows(session: Session, **where: Any) -> list[OutboxItem]:
    session.expire_all()
    stmt = select(OutboxItem).order_by(OutboxItem.created_at, OutboxItem.kind)
    for name, value in where.items():
        stmt = stmt.where(getattr(OutboxItem, name) == value)
    return list(session.scalars(stmt))


def user_ref(user: User) -> dict[str, Any]:
    return {"id": user.id, "name": user.name, "email": user.email, "avatar_url": None}


def error(message: str) -> dict[str, Any]:
    return {"error": {"message": message}}
