"""The web composer over HTTP: a reply, reply all, forward and new email go through the service of
``POST /v1/drafts``: the reply reaches a real SMTP relay threaded under the customer's Message-ID,
a saved draft is listed by ``GET /v1/conversations/:id/drafts``, and bad input (a foreign
conversation or sender, a bad address, a missing CSRF token) changes nothing."""

from __future__ import annotations

import re
from email import message_from_bytes
from email.policy import default

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.app import create_app
from missive_server.clock import FrozenClock
from missive_server.db.models import Conversation, Message, OutboxItem
from missive_server.settings import Settings
from tests.api.drafts_support import FIRST_ID, ROOT_ID, World, make_world
from tests.conftest import bearer
from tests.delivery.mail_support import Relay, running
from tests.factories import Factory
from tests.web.support import CSRF, post_sign_in


@pytest.fixture
def world(factory: Factory) -> World:
    base = make_world(factory)
    factory.session.commit()
    return base


def signed_in(client: TestClient, world: World) -> str:
    assert post_sign_in(client, token=world.token).status_code == 303
    found = CSRF.search(client.get("/").text)
    assert found is not None
    return found.group(1)


def field(page: str, name: str) -> str:
    found = re.search(rf'<input id="{name}" name="{name}" value="([^"]*)"', page)
    assert found is not None, name
    return found.group(1)


def message_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Message)) or 0)


def test_reply_starts_with_the_customer_and_our_address(client: TestClient, world: World) -> None:
    signed_in(client, world)
    page = client.get(f"/c/{world.conversation.id}/compose?mode=reply").text
    assert field(page, "to") == "Sam &lt;sam@example.com&gt;"
    assert field(page, "subject") == "Re: Help"
    assert '<option value="support@acme.test" selected>' in page
    for alias in ("help@acme.test", "billing@acme.test", "alice@acme.test"):
        assert f'value="{alias}"' in page
    assert "sales@acme.test" not in page  # an organization account not shared with Alice
    assert "hi@globex.test" not in page  # another organization's


def test_forward_starts_empty_with_a_quote(client: TestClient, world: World) -> None:
    signed_in(client, world)
    page = client.get(f"/c/{world.conversation.id}/compose?mode=forward").text
    assert field(page, "to") == ""
    assert field(page, "subject") == "Fwd: Help"
    assert 'name="quote" checked' in page


def test_reply_reaches_the_relay_threaded_under_the_customers_message(
    settings: Settings, clock: FrozenClock, engine: Engine, world: World, session: Session
) -> None:
    with running(Relay()) as relay:
        app = create_app(settings.model_copy(update={"smtp_url": relay.url}), clock=clock,
                         engine=engine)  # fmt: skip
        with TestClient(app) as client:
            csrf = signed_in(client, world)
            cid = world.conversation.id
            form = {"csrf": csrf, "mode": "reply", "from": "support@acme.test",
                    "to": "Sam <sam@example.com>", "subject": "Re: Help",
                    "body": "Your order ships today.\n<b>not bold</b>",
                    "action": "send"}  # fmt: skip
            done = client.post(f"/c/{cid}/compose", data=form, follow_redirects=False)
            assert done.status_code == 303
            assert done.headers["location"] == f"/c/{cid}?notice=Sent."
            app.state.worker.run_once()
    assert len(relay.received) == 1
    mail = message_from_bytes(relay.received[0].content, policy=default)
    assert relay.received[0].rcpt_tos == ["sam@example.com"]
    assert mail["In-Reply-To"] == FIRST_ID
    assert mail["References"].split() == [ROOT_ID, FIRST_ID]
    assert mail["From"] == "Acme Support <support@acme.test>"
    html = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "&lt;b&gt;not bold&lt;/b&gt;" in html  # the composer is plain text
    item = session.scalar(select(OutboxItem).where(OutboxItem.kind == "mail"))
    assert item is not None
    assert item.conversation_id == cid


def test_save_draft_is_listed_by_the_api(client: TestClient, world: World) -> None:
    csrf = signed_in(client, world)
    cid = world.conversation.id
    form = {"csrf": csrf, "from": "help@acme.test", "to": "sam@example.com",
            "subject": "Re: Help", "body": "Checking with the warehouse",
            "action": "save"}  # fmt: skip
    done = client.post(f"/c/{cid}/compose", data=form, follow_redirects=False)
    assert done.headers["location"] == f"/c/{cid}?notice=Draft+saved."
    listed = client.get(f"/v1/conversations/{cid}/drafts", headers=bearer(world.token)).json()
    [draft] = listed["drafts"]
    assert draft["preview"] == "Checking with the warehouse"
    assert draft["from_field"]["address"] == "help@acme.test"


def test_schedule_sends_later(
    client: TestClient, world: World, session: Session, clock: FrozenClock
) -> None:
    csrf = signed_in(client, world)
    cid = world.conversation.id
    form = {"csrf": csrf, "from": "support@acme.test", "to": "sam@example.com",
            "subject": "Re: Help", "body": "Tomorrow", "action": "schedule",
            "send_at": "2030-01-02T09:30"}  # fmt: skip
    done = client.post(f"/c/{cid}/compose", data=form, follow_redirects=False)
    assert done.headers["location"] == f"/c/{cid}?notice=Scheduled."
    item = session.scalar(select(OutboxItem).where(OutboxItem.kind == "send_draft"))
    assert item is not None
    assert item.next_attempt_at == 1893576600  # 2030-01-02 09:30 UTC


def test_new_email_starts_a_conversation(
    client: TestClient, world: World, session: Session
) -> None:
    csrf = signed_in(client, world)
    assert "New email" in client.get("/compose").text
    form = {"csrf": csrf, "from": "support@acme.test", "to": "lee@example.com",
            "subject": "Your quote", "body": "Attached soon.", "action": "send"}  # fmt: skip
    done = client.post("/compose", data=form, follow_redirects=False)
    assert done.status_code == 303
    new_id = done.headers["location"].split("/c/")[1].split("?")[0]
    assert new_id != world.conversation.id
    created = session.get(Conversation, new_id)
    assert created is not None
    assert created.organization_id == world.org.id


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"from": "hi@globex.test"}, "from_field"),
        ({"from": "sales@acme.test"}, "from_field"),
        ({"to": "not an address"}, "is not an email address"),
        ({"to": ""}, "Add at least one recipient"),
        ({"action": "schedule", "send_at": "2001-01-01T00:00"}, "must be in the future"),
        ({"action": "schedule", "send_at": "soon"}, "not a date and time"),
    ],
)
def test_bad_input_re_renders_the_form_and_writes_nothing(
    client: TestClient, world: World, session: Session, changes: dict[str, str], message: str
) -> None:
    csrf = signed_in(client, world)
    before = message_count(session)
    form = {"csrf": csrf, "from": "support@acme.test", "to": "sam@example.com",
            "subject": "Re: Help", "body": "Kept text", "action": "send"} | changes  # fmt: skip
    answer = client.post(f"/c/{world.conversation.id}/compose", data=form)
    assert answer.status_code == 400
    assert message in answer.text
    assert "Kept text" in answer.text
    assert message_count(session) == before


def test_composer_needs_csrf_and_a_visible_conversation(
    client: TestClient, world: World, session: Session, factory: Factory
) -> None:
    signed_in(client, world)
    foreign = factory.conversation(factory.organization("Other"), subject="Not yours")
    before = message_count(session)
    form = {"from": "support@acme.test", "to": "sam@example.com", "body": "x", "action": "send"}
    assert client.post(f"/c/{world.conversation.id}/compose", data=form).status_code == 403
    assert client.post("/compose", data=form | {"csrf": "forged"}).status_code == 403
    assert client.get(f"/c/{foreign.id}/compose").status_code == 404
    csrf = CSRF.search(client.get("/").text).group(1)  # type: ignore[union-attr]
    refused = client.post(f"/c/{foreign.id}/compose", data=form | {"csrf": csrf})
    assert refused.status_code == 404
    assert message_count(session) == before
