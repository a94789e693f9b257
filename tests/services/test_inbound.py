"""Inbound email below the SMTP layer: accounts, threading, access, bodies and files."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import EmailMessage

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from missive_server.clock import FrozenClock
from missive_server.db.models import (
    Account,
    Attachment,
    Conversation,
    ConversationUser,
    Message,
    Organization,
    OutboxItem,
    Team,
    User,
)
from missive_server.services import outbox
from missive_server.services.conversations.messages import MessageInput
from missive_server.services.inbound.inbound import InboundResult, receive_email
from missive_server.services.outbox import RetryPolicy
from tests.factories import EntryFactory, Factory, set_user_state
from tests.services.inbound_mail import PNG, email_account, mail

T0 = 1_700_000_000


@dataclass
class World:
    org: Organization
    alice: User
    bob: User
    team: Team
    support: Account


@pytest.fixture
def world(factory: Factory, session: Session) -> World:
    org = factory.organization("Acme")
    alice = factory.user("alice@acme.test", organizations={org: "user"})
    bob = factory.user("bob@acme.test", organizations={org: "user"})
    team = factory.team(org, "Support", active=[alice], observers=[bob])
    support = email_account(
        session, "support@acme.test", org=org, team=team, aliases=["help@acme.test"]
    )
    return World(org, alice, bob, team, support)


def receive(
    session: Session, raw: bytes, recipients: list[str], clock: FrozenClock, **kwargs: str
) -> InboundResult:
    result = receive_email(session, raw, recipients, now=clock.now(), **kwargs)
    session.commit()
    session.expire_all()
    return result


def messages_of(session: Session, conversation_id: str) -> list[Message]:
    return list(
        session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation_id)
            .order_by(Message.created_at, Message.id)
        )
    )


def attachments_of(session: Session, message_id: str) -> list[Attachment]:
    stmt = select(Attachment).where(Attachment.message_id == message_id)
    return list(session.scalars(stmt.order_by(Attachment.filename)))


def access(session: Session, conversation_id: str) -> dict[str, str]:
    rows = session.scalars(
        select(ConversationUser).where(ConversationUser.conversation_id == conversation_id)
    )
    return {row.user_id: row.location for row in rows}


def test_new_mail_opens_a_conversation_in_the_team_inbox(
    session: Session, world: World, clock: FrozenClock
) -> None:
    result = receive(session, mail(date=T0 - 120), ["Support@Acme.test", "nobody@acme.test"], clock)

    assert result.unknown_recipients == ["nobody@acme.test"]
    [delivery] = result.deliveries
    assert delivery.created
    conversation = session.get_one(Conversation, delivery.conversation_id)
    assert (conversation.organization_id, conversation.team_id) == (world.org.id, world.team.id)
    assert (conversation.team_state, conversation.account_id) == ("inbox", world.support.id)
    assert access(session, conversation.id) == {world.alice.id: "none", world.bob.id: "none"}
    [message] = messages_of(session, conversation.id)
    assert message.id == delivery.message_id
    assert message.type == "email"
    assert message.draft is False
    assert message.account_id == world.support.id
    assert message.subject == "Help"
    assert message.body == "<div>Hello there</div>"
    assert message.preview == "Hello there"
    assert message.from_field == {"name": "Sam", "address": "sam@example.com"}
    assert message.to_fields == [{"name": None, "address": "support@acme.test"}]
    assert message.email_message_id == "<first@example.com>"
    assert message.delivered_at == T0 - 120
    assert conversation.messages_count == 1
    assert conversation.latest_message_subject == "Help"


def test_unknown_recipients_only_write_nothing(
    session: Session, world: World, clock: FrozenClock
) -> None:
    result = receive(session, mail(), ["nobody@acme.test"], clock)

    assert result == InboundResult(deliveries=[], unknown_recipients=["nobody@acme.test"])
    assert session.scalars(select(Message)).all() == []


def test_alias_and_personal_accounts(
    session: Session, factory: Factory, world: World, clock: FrozenClock
) -> None:
    carol = factory.user("carol@acme.test", organizations={world.org: "user"})
    personal = email_account(session, "alice@acme.test", owner=world.alice, users=[carol])

    result = receive(
        session,
        mail(to="help@acme.test, alice@acme.test"),
        ["HELP@acme.test", "alice@acme.test"],
        clock,
    )

    team_delivery, personal_delivery = result.deliveries
    assert team_delivery.account_id == world.support.id
    assert personal_delivery.account_id == personal.id
    assert team_delivery.conversation_id != personal_delivery.conversation_id
    conversation = session.get_one(Conversation, personal_delivery.conversation_id)
    assert (conversation.organization_id, conversation.team_id) == (None, None)
    assert access(session, conversation.id) == {world.alice.id: "inbox", carol.id: "inbox"}


def test_missing_message_id_is_generated_and_threads_replies(
    session: Session, world: World, clock: FrozenClock
) -> None:
    first = receive(session, mail(message_id=None), ["support@acme.test"], clock).deliveries[0]
    generated = session.get_one(Message, first.message_id).email_message_id
    assert generated is not None
    assert re.fullmatch(r"<[0-9a-f-]{36}@acme\.test>", generated)

    reply = mail("Re: Help", message_id="<r@example.com>", in_reply_to=generated)
    second = receive(session, reply, ["support@acme.test"], clock).deliveries[0]

    assert second.conversation_id == first.conversation_id
    assert not second.created


def test_threading_by_references_and_chevrons(
    session: Session, world: World, clock: FrozenClock
) -> None:
    first = receive(session, mail(), ["support@acme.test"], clock).deliveries[0]
    reply = mail(
        "Re: Help",
        message_id="<second@example.com>",
        references="<unknown@x> first@example.com",
    )
    # The reply comes later: two messages of one second have no order to tell the newest by.
    clock.advance(60)

    second = receive(session, reply, ["support@acme.test"], clock).deliveries[0]

    assert second.conversation_id == first.conversation_id
    stored = session.get_one(Message, second.message_id)
    assert stored.references == ["<unknown@x>", "<first@example.com>"]
    assert stored.in_reply_to == []
    conversation = session.get_one(Conversation, first.conversation_id)
    assert conversation.messages_count == 2
    assert conversation.latest_message_subject == "Re: Help"


def test_threading_stays_inside_the_accounts_organization(
    session: Session, factory: Factory, world: World, clock: FrozenClock
) -> None:
    other = factory.organization("Globex")
    foreign = factory.conversation(
        other, messages=[MessageInput(subject="x", email_message_id="<shared@example.com>")]
    )

    reply = mail(message_id="<new@example.com>", in_reply_to="<shared@example.com>")
    delivery = receive(session, reply, ["support@acme.test"], clock).deliveries[0]

    assert delivery.created
    assert delivery.conversation_id != foreign.id


def test_a_reply_reopens_for_users_who_closed_it(
    session: Session, factory: Factory, world: World, clock: FrozenClock
) -> None:
    carol = factory.user("carol@acme.test", organizations={world.org: "user"})
    dave = factory.user("dave@acme.test", organizations={world.org: "user"})
    first = receive(session, mail(), ["support@acme.test"], clock).deliveries[0]
    conversation = session.get_one(Conversation, first.conversation_id)
    factory.session.add_all(
        ConversationUser(
            conversation_id=conversation.id,
            user_id=u.id,
            location="inbox",
            added_at=T0,
            last_activity_at=T0,
        )
        for u in (carol, dave)
    )
    factory.session.commit()
    set_user_state(factory, conversation, world.alice, location="closed")
    set_user_state(factory, conversation, carol, location="snoozed", snoozed_until=T0 + 9999)
    set_user_state(factory, conversation, dave, location="trashed")
    conversation.team_state = "closed"
    session.commit()
    clock.advance(60)

    reply = mail("Re: Help", message_id="<r@example.com>", in_reply_to="<first@example.com>")
    receive(session, reply, ["support@acme.test"], clock)

    assert access(session, conversation.id) == {
        world.alice.id: "inbox",
        world.bob.id: "none",  # only in All: the team inbox shows it
        carol.id: "inbox",
        dave.id: "trashed",
    }
    assert session.get_one(ConversationUser, (conversation.id, carol.id)).snoozed_until is None
    refreshed = session.get_one(Conversation, conversation.id)
    assert refreshed.team_state == "inbox"
    assert refreshed.last_activity_at == T0 + 60


def test_a_reply_clears_the_close_time_and_a_duplicate_does_not(
    session: Session, world: World, clock: FrozenClock
) -> None:
    first = receive(session, mail(), ["support@acme.test"], clock).deliveries[0]
    conversation = session.get_one(Conversation, first.conversation_id)
    conversation.team_state, conversation.closed_at = "closed", T0  # as a close would
    session.commit()

    receive(session, mail(), ["support@acme.test"], clock)  # the same message again
    assert session.get_one(Conversation, conversation.id).closed_at == T0
    reply = mail("Re: Help", message_id="<r@example.com>", in_reply_to="<first@example.com>")
    receive(session, reply, ["support@acme.test"], clock)

    refreshed = session.get_one(Conversation, conversation.id)
    assert (refreshed.team_state, refreshed.closed_at) == ("inbox", None)


def test_the_same_message_twice_is_recorded_once(
    session: Session, world: World, clock: FrozenClock
) -> None:
    first = receive(session, mail(), ["support@acme.test"], clock).deliveries[0]

    again = receive(session, mail(), ["support@acme.test"], clock).deliveries[0]

    assert again.duplicate
    assert (again.conversation_id, again.message_id) == (first.conversation_id, first.message_id)
    assert len(messages_of(session, first.conversation_id)) == 1


def test_two_accounts_of_one_organization_share_one_conversation(
    session: Session, factory: Factory, world: World, clock: FrozenClock
) -> None:
    carol = factory.user("carol@acme.test", organizations={world.org: "user"})
    sales = email_account(session, "sales@acme.test", org=world.org, users=[carol])

    result = receive(
        session,
        mail(to="support@acme.test, sales@acme.test"),
        ["support@acme.test", "sales@acme.test"],
        clock,
    )

    first, second = result.deliveries
    assert first.created
    assert second.duplicate
    assert second.account_id == sales.id
    assert first.conversation_id == second.conversation_id
    assert access(session, first.conversation_id) == {
        world.alice.id: "none",
        world.bob.id: "none",
        carol.id: "inbox",
    }


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        (T0 - 3600, T0 - 3600),
        (T0 - 31 * 86400, T0),  # too old: a wrong clock
        (T0 + 600, T0),  # a fast clock: capped at the receipt time
        (T0 + 86400, T0),  # far in the future
        (None, T0),
    ],
)
def test_delivered_at_is_the_date_header_when_sane(
    session: Session, world: World, clock: FrozenClock, date: int | None, expected: int
) -> None:
    delivery = receive(session, mail(date=date), ["support@acme.test"], clock).deliveries[0]

    assert session.get_one(Message, delivery.message_id).delivered_at == expected


def test_text_only_mail_is_escaped_html(session: Session, world: World, clock: FrozenClock) -> None:
    raw = mail(text="<b>not bold</b> & co\nsecond line\n\nafter a blank")

    delivery = receive(session, raw, ["support@acme.test"], clock).deliveries[0]

    assert session.get_one(Message, delivery.message_id).body == (
        "<div>&lt;b&gt;not bold&lt;/b&gt; &amp; co<br>second line<br><br>after a blank</div>"
    )


def test_inline_images_and_attachments_are_stored(
    session: Session, world: World, clock: FrozenClock
) -> None:
    message = EmailMessage()
    message["Subject"] = "Pictures"
    message["From"] = "sam@example.com"
    message["Message-ID"] = "<pics@example.com>"
    message.set_content("see the picture")
    html = (
        '<p>Logo: <img style="max-width: 100%" src="cid:logo%40acme" alt="logo">'
        '<img src="cid:missing@acme"></p>'
    )
    message.add_alternative(html, subtype="html")
    message.get_payload()[1].add_related(PNG, "image", "png", cid="<logo@acme>")
    message.add_attachment(b"col\n1\n", "text", "csv", filename="data.csv")
    message.add_attachment(PNG, "image", "png")  # no filename: named from its type

    delivery = receive(session, message.as_bytes(), ["support@acme.test"], clock).deliveries[0]

    files = {
        a.filename: a
        for a in session.scalars(
            select(Attachment).where(Attachment.message_id == delivery.message_id)
        )
    }
    assert sorted(files) == ["attachment.png", "data.csv", "inline-image.png"]
    logo = files["inline-image.png"]
    assert (logo.media_type, logo.sub_type, logo.width, logo.height) == ("image", "png", 40, 30)
    assert (files["data.csv"].media_type, files["data.csv"].sub_type) == ("text", "csv")
    assert files["data.csv"].content == b"col\n1\n"
    stored = session.get_one(Message, delivery.message_id)
    assert stored.body == (
        f'<p>Logo: <img style="max-width: 100%" data-missive-attachment-id="{logo.id}" '
        'alt="logo"><img src="cid:missing@acme"></p>\n'
    )
    assert session.get_one(Conversation, delivery.conversation_id).attachments_count == 3


def test_unknown_extension_takes_the_content_type(
    session: Session, world: World, clock: FrozenClock
) -> None:
    message = EmailMessage()
    message["Message-ID"] = "<files@example.com>"
    message.set_content("files")
    message.add_attachment(PNG, "image", "png", filename="scan.weird")
    message.add_attachment(b"x", "application", "zip", filename="a." + "z" * 40)

    delivery = receive(session, message.as_bytes(), ["support@acme.test"], clock).deliveries[0]

    stored = session.scalars(
        select(Attachment)
        .where(Attachment.message_id == delivery.message_id)
        .order_by(Attachment.filename)
    ).all()
    assert [(a.filename, a.extension, a.media_type, a.sub_type, a.width) for a in stored] == [
        ("a." + "z" * 40, None, "application", "zip", None),
        ("scan.weird", "weird", "image", "png", 40),
    ]


def test_malformed_mail_is_stored_with_what_could_be_parsed(
    session: Session, world: World, clock: FrozenClock
) -> None:
    raw = (
        b"Subject: broken \xff\x00 subject\r\nFrom: not an address\r\n"
        b"To: " + b"x" * 400 + b"@acme.test, support@acme.test\r\n"
        b"Date: Mon, 32 Foo 2020 99:99:99 +9999\r\n"
        b"Content-Type: multipart/alternative; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: text/plain; charset=bogus\r\n\r\nnul \x00 inside \xe9\r\n"
    )

    result = receive(session, raw, ["support@acme.test"], clock, envelope_from="bounce@example.com")

    message = session.get_one(Message, result.deliveries[0].message_id)
    assert message.subject == "broken \ufffd subject"
    assert message.from_field == {"name": None, "address": "bounce@example.com"}
    assert message.to_fields == [{"name": None, "address": "support@acme.test"}]
    assert message.body == "<div>nul  inside é</div>"
    assert message.delivered_at == T0


def test_a_reply_discards_auto_followups_only(
    session: Session, factory: Factory, world: World, clock: FrozenClock
) -> None:
    first = receive(session, mail(), ["support@acme.test"], clock).deliveries[0]
    conversation = session.get_one(Conversation, first.conversation_id)
    entries = EntryFactory(session, clock)
    followup = entries.draft(conversation, world.alice, send_at=T0 + 3600)
    scheduled = entries.draft(conversation, world.alice, send_at=T0 + 3600)
    followup.auto_followup = True
    for draft in (followup, scheduled):
        outbox.enqueue(
            session,
            kind="send_draft",
            now=T0,
            policy=RetryPolicy(),
            due_at=T0 + 3600,
            message_id=draft.id,
            conversation_id=conversation.id,
        )
    session.commit()
    followup_id, scheduled_id = followup.id, scheduled.id

    reply = mail("Re: Help", message_id="<r@example.com>", in_reply_to="<first@example.com>")
    receive(session, reply, ["support@acme.test"], clock)

    assert session.get(Message, followup_id) is None
    assert session.get(Message, scheduled_id) is not None
    statuses = {item.message_id: item.status for item in session.scalars(select(OutboxItem))}
    assert statuses == {None: "cancelled", scheduled_id: "pending"}
    assert session.get_one(Conversation, conversation.id).send_later_messages_count == 1
