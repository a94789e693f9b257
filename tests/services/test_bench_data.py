"""The bench dataset is the data the real paths write: a generated conversation renders through
the API exactly as the same emails received by ``receive_email`` do, and a generated contact
exactly as the same contact created by ``POST /v1/contacts`` (ids and creation times aside)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from missive_server.db.models import (
    Contact,
    ContactSearchTerm,
    Conversation,
    ConversationAddress,
    ConversationSearchTerm,
    ConversationUser,
    Message,
    MessageReference,
)
from missive_server.services.inbound.inbound import receive_email
from missive_server.services.seed import bench_data
from tests.conftest import bearer

AUTH = bearer(bench_data.TOKEN)
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def anonymous(value: Any) -> Any:
    """``value`` with every id replaced by its order of first appearance: two renderings that
    differ only in ids compare equal, and ids that must match within one still must."""
    seen: dict[str, str] = {}
    text = UUID.sub(lambda m: seen.setdefault(m.group(), f"id{len(seen)}"), repr(value))
    return text


def conversation_view(client: TestClient, cid: str) -> list[Any]:
    [conversation] = client.get(f"/v1/conversations/{cid}", headers=AUTH).json()["conversations"]
    messages = client.get(f"/v1/conversations/{cid}/messages", headers=AUTH).json()["messages"]
    full = [
        client.get(f"/v1/messages/{m['id']}", headers=AUTH).json()["messages"] for m in messages
    ]
    inbox = client.get("/v1/conversations?inbox=true", headers=AUTH).json()["conversations"]
    return [conversation, messages, full, inbox]


def raw_email(message: Message) -> bytes:
    mail = EmailMessage(policy=policy.SMTP)
    sender = message.from_field
    mail["From"] = f'"{sender["name"]}" <{sender["address"]}>'
    mail["To"] = bench_data.SUPPORT
    mail["Subject"] = message.subject or ""
    mail["Message-ID"] = message.email_message_id or ""
    if message.in_reply_to:
        mail["In-Reply-To"] = " ".join(message.in_reply_to)
        mail["References"] = " ".join(message.references)
    mail["Date"] = format_datetime(datetime.fromtimestamp(message.delivered_at or 0, UTC))
    mail.set_content(message.body or "", subtype="html")
    return mail.as_bytes()


def search_terms(session: Session, cid: str) -> set[str]:
    query = select(ConversationSearchTerm.term).where(ConversationSearchTerm.conversation_id == cid)
    return set(session.scalars(query))


def test_a_generated_conversation_is_what_receive_email_writes(
    engine: Engine, client: TestClient, session: Session
) -> None:
    bench_data.generate(engine, conversations=1, messages_per_conversation=3, contacts=1)
    cid = session.scalar(select(Conversation.id))
    assert cid is not None
    generated = conversation_view(client, cid)
    references = sorted(
        session.scalars(
            select(MessageReference.reference).where(MessageReference.conversation_id == cid)
        )
    )
    messages = list(
        session.scalars(
            select(Message).where(Message.conversation_id == cid).order_by(Message.delivered_at)
        )
    )
    raws = [raw_email(m) for m in messages]
    terms = search_terms(session, cid)
    for model in (
        MessageReference,
        Message,
        ConversationAddress,
        ConversationUser,
        ConversationSearchTerm,
    ):
        session.execute(delete(model).where(model.conversation_id == cid))
    session.execute(delete(Conversation).where(Conversation.id == cid))
    session.commit()

    for raw, message in zip(raws, messages, strict=True):
        receive_email(session, raw, [bench_data.SUPPORT], now=message.delivered_at or 0)
    session.commit()
    received = session.scalar(select(Conversation.id))
    assert received is not None
    assert received != cid
    assert session.scalar(select(func.count()).select_from(Conversation)) == 1
    assert anonymous(conversation_view(client, received)) == anonymous(generated)
    assert len(generated[1]) == 3
    assert generated[0]["messages_count"] == 3
    assert search_terms(session, received) == terms
    assert {"order", "question", "delivery", "support", bench_data.SUPPORT} <= terms
    assert (
        sorted(
            session.scalars(
                select(MessageReference.reference).where(
                    MessageReference.conversation_id == received
                )
            )
        )
        == references
    )


def test_a_generated_contact_is_what_post_contacts_writes(
    engine: Engine, client: TestClient, session: Session
) -> None:
    dataset = bench_data.generate(engine, conversations=1, contacts=1)
    book = dataset.contact_book_id
    [generated] = client.get(f"/v1/contacts?contact_book={book}", headers=AUTH).json()["contacts"]
    payload = {
        "contact_book": book,
        "first_name": generated["first_name"],
        "last_name": generated["last_name"],
        "notes": generated["notes"],
        "infos": [
            {key: info[key] for key in ("kind", "label", "value")} for info in generated["infos"]
        ],
        "memberships": [
            {"title": m["title"], "group": {"kind": m["group"]["kind"], "name": m["group"]["name"]}}
            for m in generated["memberships"]
        ],
    }
    response = client.post("/v1/contacts", json={"contacts": [payload]}, headers=AUTH)
    assert response.status_code == 201, response.text
    [created] = response.json()["contacts"]
    [fetched] = client.get(f"/v1/contacts/{created['id']}", headers=AUTH).json()["contacts"]

    def comparable(contact: dict[str, Any]) -> str:
        rest = {k: v for k, v in contact.items() if k not in ("id", "modified_at", "created_at")}
        return anonymous(rest)

    assert comparable(fetched) == comparable(generated)

    def terms(contact_id: str) -> set[tuple[str, str]]:
        t = ContactSearchTerm
        query = select(t.term, t.sort_name).where(t.contact_id == contact_id)
        return {(term, sort_name) for term, sort_name in session.execute(query)}

    assert terms(created["id"]) == terms(generated["id"])
    assert len(terms(generated["id"])) > 10
    sort_name = session.scalar(select(Contact.sort_name).where(Contact.id == generated["id"]))
    assert {s for _, s in terms(generated["id"])} == {sort_name}


def test_the_dataset_is_deterministic_and_sized_as_asked(engine: Engine, session: Session) -> None:
    bench_data.generate(engine, conversations=25, messages_per_conversation=2, contacts=4, seed=3)
    assert session.scalar(select(func.count()).select_from(Conversation)) == 25
    assert session.scalar(select(func.count()).select_from(Message)) == 50
    names = session.execute(
        select(Contact.first_name, Contact.last_name).order_by(Contact.sort_name)
    )
    # The same seed gives the same people.
    assert [tuple(r) for r in names] == [
        (p.first, p.last) for p in sorted(bench_data.people(4, 3), key=lambda p: (p.last, p.first))
    ]
    with pytest.raises(bench_data.DatasetExists):
        bench_data.generate(engine, conversations=1)


def test_forget_writes_puts_the_dataset_back_as_generated(
    engine: Engine, client: TestClient, session: Session
) -> None:
    bench_data.generate(engine, conversations=6, contacts=2)
    before = client.get("/v1/conversations?inbox=true", headers=AUTH).json()["conversations"]
    oldest = before[-1]["id"]
    note = {"title": "Bench", "body": "load"}
    posted = client.post(
        "/v1/posts",
        json={"posts": {"conversation": oldest, "notification": note, "text": "x"}},
        headers=AUTH,
    )
    assert posted.status_code == 201, posted.text
    draft = {
        "subject": "Bench",
        "body": "<p>Hello</p>",
        "from_field": {"address": bench_data.SUPPORT},
        "to_fields": [{"address": "c@client.test"}],
        "send": True,
    }
    sent = client.post("/v1/drafts", json={"drafts": draft}, headers=AUTH)
    assert sent.status_code == 201, sent.text
    moved = client.get("/v1/conversations?inbox=true", headers=AUTH).json()["conversations"]
    assert len(moved) == 7
    # The post moved it to the top, with the draft's new conversation (the same second).
    assert oldest in {moved[0]["id"], moved[1]["id"]}

    assert bench_data.forget_writes(engine) > 0
    after = client.get("/v1/conversations?inbox=true", headers=AUTH).json()["conversations"]
    assert after == before
    assert client.get(f"/v1/conversations/{oldest}/posts", headers=AUTH).json()["posts"] == []
    assert session.scalar(select(func.count()).select_from(Message)) == 12
    assert bench_data.forget_writes(engine) == 0
