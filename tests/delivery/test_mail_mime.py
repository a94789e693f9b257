"""How a sent message is written: structure without attachments, Reply-To, Message-ID
fallback, long ids, international domains, and addresses that cannot be written.

Captured mode (no relay): the stored raw message is exactly what a relay would receive.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.db.models import Attachment, Message
from missive_server.delivery.mail import build_mime, plain_text
from tests.conftest import bearer
from tests.delivery.mail_support import (
    PNG,
    T0,
    World,
    fresh,
    lines,
    make_world,
    outgoing,
    parse,
    queue_mail,
)
from tests.factories import Factory


@pytest.fixture
def world(factory: Factory) -> World:
    return make_world(factory)


def test_plain_body_without_attachments_is_multipart_alternative(
    app: FastAPI, session: Session, world: World
) -> None:
    data = outgoing(
        attachments=[],
        body="<p>First paragraph</p><p>Second<br>line</p><ul><li>one</li><li>two</li></ul>",
        cc_fields=[],
        reply_to_fields=[{"name": "Help Desk", "address": "help@acme.test"}],
    )
    queued = queue_mail(session, world.conversation, T0, data, inline=None)

    app.state.worker.run_once()

    mail = parse(fresh(session, queued.item).raw)
    assert mail.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in mail.iter_parts()] == ["text/plain", "text/html"]
    assert mail["Cc"] is None
    assert mail["Reply-To"] == "Help Desk <help@acme.test>"
    text = mail.get_body(("plain",))
    assert text is not None
    assert lines(text) == "First paragraph\n\nSecond\nline\n\n- one\n- two\n"


def test_a_message_without_a_message_id_is_sent_with_the_one_it_was_given(
    app: FastAPI, session: Session, world: World, client: TestClient
) -> None:
    """Recording the message gives it ``<uuid@domain>`` (issue 16); the mail carries that id."""
    data = outgoing(email_message_id=None, in_reply_to=[], references=[], attachments=[])
    queued = queue_mail(session, world.conversation, T0, data, inline=None)
    minted = queued.message.email_message_id
    assert minted is not None
    assert minted.endswith("@acme.test>")

    app.state.worker.run_once()

    mail = parse(fresh(session, queued.item).raw)
    assert mail["Message-ID"] == minted
    assert (mail["In-Reply-To"], mail["References"]) == (None, None)
    assert fresh(session, queued.message).email_message_id == minted
    found = client.get(
        f"/v1/messages?email_message_id={minted.strip('<>')}",
        headers=bearer(world.alice_token),
    )
    assert [m["id"] for m in found.json()["messages"]] == [queued.message.id]


def test_long_ids_and_international_domains_are_written_safely(
    app: FastAPI, session: Session, world: World
) -> None:
    long_id = "<" + "x" * 90 + "@mail.example.com>"
    data = outgoing(
        attachments=[],
        in_reply_to=[long_id],
        references=["root@example.com", long_id],
        to_fields=[{"name": "Jürgen", "address": "jurgen@bücher.example"}],
    )
    queued = queue_mail(session, world.conversation, T0, data, inline=None)

    app.state.worker.run_once()

    raw = fresh(session, queued.item).raw
    mail = parse(raw)
    assert mail["In-Reply-To"] == long_id
    assert mail["References"] == f"<root@example.com> {long_id}"
    assert mail["To"] == "Jürgen <jurgen@xn--bcher-kva.example>"
    assert b"=?" not in raw.split(b"\r\nReferences:")[1].split(b"\r\nMIME")[0]
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998


def test_an_address_that_cannot_be_written_fails_at_once(
    app: FastAPI, session: Session, world: World
) -> None:
    data = outgoing(attachments=[], to_fields=[{"name": "X", "address": "not-an-address"}])
    queued = queue_mail(session, world.conversation, T0, data, inline=None)

    app.state.worker.run_once()

    item = fresh(session, queued.item)
    assert (item.status, item.attempts) == ("failed", 1)
    assert (
        item.last_error
        == "cannot write this message: 'not-an-address' is not a valid email address"
    )


def test_a_non_ascii_mailbox_name_fails_at_once(
    app: FastAPI, session: Session, world: World
) -> None:
    data = outgoing(attachments=[], cc_fields=[{"name": "J", "address": "jürgen@example.com"}])
    queued = queue_mail(session, world.conversation, T0, data, inline=None)

    app.state.worker.run_once()

    item = fresh(session, queued.item)
    assert (item.status, item.attempts, item.last_error) == (
        "failed",
        1,
        "cannot write this message: 'jürgen@example.com' has a non-ASCII mailbox name "
        "(SMTPUTF8 is not supported)",
    )


def test_a_deleted_message_fails_its_mail_at_once(
    app: FastAPI, session: Session, world: World
) -> None:
    queued = queue_mail(session, world.conversation, T0, inline=None)
    session.delete(queued.message)
    session.commit()

    app.state.worker.run_once()

    item = fresh(session, queued.item)
    assert (item.status, item.message_id) == ("failed", None)
    assert item.last_error == "the message of this mail no longer exists"


def test_a_payload_without_recipients_fails_at_once(
    app: FastAPI, session: Session, world: World
) -> None:
    queued = queue_mail(session, world.conversation, T0, inline=None)
    queued.item.payload = {"envelope_from": "alice@acme.test", "recipients": []}
    session.commit()

    app.state.worker.run_once()

    item = fresh(session, queued.item)
    assert (item.status, item.last_error) == (
        "failed",
        "cannot write this message: the outbox payload has no 'recipients'",
    )


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (None, ""),
        ("World!", "World!\n"),
        ("<div>One</div><div><br></div><div>Two</div>", "One\n\nTwo\n"),
        ("<p>A</p><p>B &lt;b&gt;<br/>C</p>", "A\n\nB <b>\nC\n"),
        ("<h1>Title</h1>text<style>p {color: red}</style>", "Title\n\ntext\n"),
        ("<div>two\n  lines in source</div>", "two lines in source\n"),
        ("<ol><li>first</li><li>second</li></ol>after", "- first\n- second\n\nafter\n"),
    ],
)
def test_the_text_part_keeps_lines_and_paragraphs(body: str | None, text: str) -> None:
    assert plain_text(body) == text


def message(**fields: Any) -> Message:
    base: dict[str, Any] = {
        "id": "m-1",
        "subject": "Hi",
        "body": "<div>Hi</div>",
        "from_field": {"name": "Alice", "address": "alice@acme.test"},
        "to_fields": [{"name": "Paul", "address": "paul@example.com"}],
        "cc_fields": [],
        "bcc_fields": [],
        "reply_to_fields": [],
        "email_message_id": "m-1@acme.test",
        "in_reply_to": [],
        "references": [],
        "delivered_at": T0,
        "created_at": T0,
    }
    return Message(**(base | fields))


def attachment(attachment_id: str, filename: str, media_type: str, sub_type: str) -> Attachment:
    return Attachment(
        id=attachment_id,
        filename=filename,
        media_type=media_type,
        sub_type=sub_type,
        content=PNG,
    )


def test_an_inline_reference_to_an_unknown_attachment_is_left_alone() -> None:
    body = '<img data-missive-attachment-id="gone"><img data-missive-attachment-id="a-1">'
    raw = build_mime(message(body=body), [attachment("a-1", "x.png", "image", "png")])

    html = parse(raw).get_body(("html",))
    assert html is not None
    assert lines(html) == '<img data-missive-attachment-id="gone"><img src="cid:a-1@acme.test">\n'


def test_message_attachments_are_sent_as_opaque_files() -> None:
    eml = attachment("a-1", "forwarded.eml", "message", "rfc822")

    mail = parse(build_mime(message(), [eml]))

    [part] = list(mail.iter_attachments())
    assert (part.get_content_type(), part.get_filename()) == (
        "application/octet-stream",
        "forwarded.eml",
    )
    assert part.get_content() == PNG


def test_parts_do_not_repeat_the_mime_version() -> None:
    raw = build_mime(message(), [attachment("a-1", "x.png", "image", "png")])

    assert raw.count(b"MIME-Version:") == 1
    assert b"\r\n" in raw
    assert b"\n" not in raw.replace(b"\r\n", b"")


def test_attachment_filenames_keep_their_non_ascii_characters() -> None:
    raw = build_mime(message(), [attachment("a-1", "Überblick ✓.png", "image", "png")])

    assert raw.isascii()
    assert [a.get_filename() for a in parse(raw).iter_attachments()] == ["Überblick ✓.png"]
