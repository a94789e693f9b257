"""GET /_files/{attachment_id}/{token}/{filename}: attachment downloads (spec 1A, url)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.db.models import Attachment, Message, Organization, User
from missive_server.services.conversations.attachments import NewAttachment
from missive_server.services.conversations.messages import MessageInput
from tests.conftest import bearer
from tests.factories import Factory

T = 1_700_000_000
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x02\x00\x00\x00\x03" + bytes(8)


@pytest.fixture
def member(factory: Factory) -> tuple[Organization, User, str]:
    org = factory.organization("Acme")
    user, token = factory.member(org)
    return org, user, token


def message_with(
    factory: Factory, member: tuple[Organization, User, str], *files: NewAttachment
) -> str:
    org, user, _ = member
    data = MessageInput(subject="Files", body="<p>see</p>", delivered_at=T, attachments=list(files))
    conversation = factory.conversation(org, users=[user], messages=[data])
    return str(
        factory.session.scalar(select(Message.id).where(Message.conversation_id == conversation.id))
    )


def attachment_urls(client: TestClient, token: str, message_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/messages/{message_id}", headers=bearer(token))
    assert response.status_code == 200
    return {a["filename"]: a["url"] for a in response.json()["messages"]["attachments"]}


def test_the_url_of_the_wire_object_serves_the_bytes_without_a_token(
    client: TestClient, factory: Factory, member: tuple[Organization, User, str]
) -> None:
    message_id = message_with(
        factory, member, NewAttachment("photo.png", PNG), NewAttachment("report.pdf", b"%PDF-1.4")
    )
    urls = attachment_urls(client, member[2], message_id)

    image = client.get(urls["photo.png"].removeprefix("http://testserver"))
    pdf = client.get(urls["report.pdf"].removeprefix("http://testserver"))

    assert image.status_code == 200
    assert image.content == PNG
    assert image.headers["content-type"] == "image/png"
    assert (
        image.headers["content-disposition"]
        == "inline; filename=\"photo.png\"; filename*=UTF-8''photo.png"
    )
    assert image.headers["x-content-type-options"] == "nosniff"
    assert pdf.content == b"%PDF-1.4"
    assert pdf.headers["content-type"] == "application/pdf"


def test_unsafe_types_download_as_attachments_and_odd_names_survive(
    client: TestClient, factory: Factory, member: tuple[Organization, User, str]
) -> None:
    name = 'Résumé "final" #2/3?.html'
    message_id = message_with(factory, member, NewAttachment(name, b"<script>alert(1)</script>"))
    url = attachment_urls(client, member[2], message_id)[name]

    assert url.endswith("/R%C3%A9sum%C3%A9%20%22final%22%20%232%2F3%3F.html")
    response = client.get(url.removeprefix("http://testserver"))

    assert response.status_code == 200
    assert response.content == b"<script>alert(1)</script>"
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-disposition"] == (
        'attachment; filename="R_sum_ _final_ #2/3?.html"; '
        "filename*=UTF-8''R%C3%A9sum%C3%A9%20%22final%22%20%232%2F3%3F.html"
    )


def test_wrong_token_or_unknown_id_is_404(
    client: TestClient, factory: Factory, session: Session, member: tuple[Organization, User, str]
) -> None:
    message_with(factory, member, NewAttachment("photo.png", PNG))
    attachment = session.scalars(select(Attachment)).one()
    unknown = "3fa4bcf5-e57e-47a4-9422-de2cce5f802e"

    for attachment_id, token in (
        (attachment.id, "not-the-token"),
        (attachment.id, attachment.download_token[:-1]),
        (attachment.id, "é"),
        (unknown, attachment.download_token),
    ):
        response = client.get(f"/_files/{attachment_id}/{token}/photo.png")
        assert response.status_code == 404
        assert response.json() == {
            "error": {"message": f"Attachment with id '{attachment_id}' does not exist"}
        }


def test_files_are_not_under_v1(
    client: TestClient, factory: Factory, session: Session, member: tuple[Organization, User, str]
) -> None:
    message_with(factory, member, NewAttachment("photo.png", PNG))
    attachment = session.scalars(select(Attachment)).one()

    response = client.get(f"/v1/_files/{attachment.id}/{attachment.download_token}/photo.png")

    assert (response.status_code, response.json()) == (404, {"error": {"message": "Not found"}})
