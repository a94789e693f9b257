"""Parsing received email (services/inbound/_mime.py): broken input degrades, never raises."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from missive_server.services.inbound._mime import (
    link_inline_images,
    parse_email,
    referenced_content_ids,
)
from tests.services.inbound_mail import PNG


def test_encoded_headers_are_decoded() -> None:
    raw = (
        b"Subject: =?utf-8?q?Caf=C3=A9?= and =?iso-8859-1?b?6XTp?=\r\n"
        b"From: =?iso-8859-1?q?Ren=E9_Lef=E8vre?= <rene@example.com>\r\n"
        b'To: "Support, Acme" <support@acme.test>, team: a@acme.test, b@acme.test;\r\n'
        b"Cc: =?utf-8?b?U8OpYmFzdGllbg==?= <seb@example.com>\r\n"
        b"Reply-To: <replies@example.com>\r\n"
        b"Message-ID: <m1@example.com>\r\n"
        b"\r\nbody\r\n"
    )

    parsed = parse_email(raw)

    assert parsed.subject == "Café and été"
    assert parsed.from_field == {"name": "René Lefèvre", "address": "rene@example.com"}
    assert parsed.to_fields == [
        {"name": "Support, Acme", "address": "support@acme.test"},
        {"name": None, "address": "a@acme.test"},
        {"name": None, "address": "b@acme.test"},
    ]
    assert parsed.cc_fields == [{"name": "Sébastien", "address": "seb@example.com"}]
    assert parsed.reply_to_fields == [{"name": None, "address": "replies@example.com"}]
    assert parsed.message_id == "<m1@example.com>"


def test_raw_utf8_headers_and_unparseable_addresses() -> None:
    raw = (
        "Subject: Größe ☃\r\nFrom: @@@\r\nTo: Zoë <zoe@example.com>, junk<<>>, <>\r\n"
        "In-Reply-To: <a@x> garbage <b@x>\r\nReferences: bare@x <c@x>\r\n\r\nhi\r\n"
    ).encode()

    parsed = parse_email(raw)

    assert parsed.subject == "Größe ☃"
    assert parsed.from_field is None
    assert parsed.to_fields == [{"name": "Zoë", "address": "zoe@example.com"}]
    assert parsed.in_reply_to == ["<a@x>", "<b@x>"]
    assert parsed.references == ["<bare@x>", "<c@x>"]


def test_bare_message_ids_get_chevrons() -> None:
    parsed = parse_email(b"Message-ID: abc@example.com\r\nReferences: x@y z@w\r\n\r\nhi")

    assert parsed.message_id == "<abc@example.com>"
    assert parsed.references == ["<x@y>", "<z@w>"]


@pytest.mark.parametrize(
    ("charset", "payload", "expected"),
    [
        ("iso-8859-1", "Caf\xe9".encode("latin-1"), "Café"),
        ("windows-1252", b"\x93quoted\x94", "\u201cquoted\u201d"),
        ("x-unknown", "naïve".encode(), "naïve"),  # unknown: UTF-8 when it decodes
        ("x-unknown", b"na\xefve", "naïve"),  # ... else Windows-1252
        ("us-ascii", "mislabelled é".encode(), "mislabelled é"),
        ("utf-8", b"broken \xff end", "broken \ufffd end"),
    ],
)
def test_text_charsets(charset: str, payload: bytes, expected: str) -> None:
    raw = (
        f"Content-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    ).encode() + payload

    assert parse_email(raw).text == expected


def test_garbage_and_empty_input_never_raise() -> None:
    assert parse_email(b"").text == ""
    garbage = parse_email(b"\x00\x01\xff no headers at all")
    assert garbage.text is not None
    assert "\x00" not in garbage.text
    assert garbage.subject is None
    assert garbage.message_id is None


def test_broken_mime_keeps_what_could_be_read() -> None:
    raw = (
        b"Subject: broken\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n"
        b"--zz\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"PGI+aGk8L2I+!!!\r\n"
        b"--zz\r\nContent-Type: image/png; name=a.png\r\nContent-Transfer-Encoding: base64\r\n"
        # no closing boundary, no blank line
    )

    parsed = parse_email(raw)

    assert parsed.subject == "broken"
    assert parsed.html == "<b>hi</b>"
    assert [(f.filename, f.content_type) for f in parsed.files] == [("a.png", "image/png")]


def test_multipart_without_boundary_is_text() -> None:
    parsed = parse_email(b"Content-Type: multipart/mixed\r\n\r\njust some text")

    assert parsed.text == "just some text"


def test_attachments_inline_images_and_forwarded_messages() -> None:
    message = EmailMessage()
    message.set_content("plain version")
    message.add_alternative('<p>Look <img alt="x" src="cid:logo@acme"></p>', subtype="html")
    message.get_payload()[1].add_related(PNG, "image", "png", cid="<logo@acme>")
    message.add_attachment(b"%PDF-1.4", "application", "pdf", filename="../../etc/report.pdf")
    message.add_attachment(b"data", "application", "x-custom")  # no filename
    forwarded = EmailMessage()
    forwarded["Subject"] = "Original"
    forwarded.set_content("forwarded text")
    message.add_attachment(forwarded)

    parsed = parse_email(message.as_bytes())

    assert parsed.text == "plain version\n"
    assert parsed.html == '<p>Look <img alt="x" src="cid:logo@acme"></p>\n'
    files = [(f.filename, f.content_type, f.content_id) for f in parsed.files]
    assert files == [
        ("inline-image.png", "image/png", "logo@acme"),
        ("report.pdf", "application/pdf", None),
        ("attachment", "application/x-custom", None),
        ("message.eml", "message/rfc822", None),
    ]
    assert parsed.files[0].content == PNG
    assert b"forwarded text" in parsed.files[3].content


def test_inline_image_links() -> None:
    body = (
        '<img src="cid:a%40x" alt="a"><IMG SRC=CID:B@X width=1>'
        "<img alt='>' src='cid:&lt;c@x&gt;'><img src=\"https://e.test/i.png\"><img>"
    )

    assert referenced_content_ids(body) == {"a@x", "b@x", "c@x"}
    assert link_inline_images(body, {"a@x": "ID-A", "b@x": "ID-B"}) == (
        '<img data-missive-attachment-id="ID-A" alt="a">'
        '<IMG data-missive-attachment-id="ID-B" width=1>'
        "<img alt='>' src='cid:&lt;c@x&gt;'><img src=\"https://e.test/i.png\"><img>"
    )
