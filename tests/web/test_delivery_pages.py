"""``/outbox`` and ``/deliveries`` over HTTP: only the signed-in user's organizations' rows, the
raw message, and a CSRF-checked Redeliver that refuses another organization's delivery."""

from __future__ import annotations

import re

from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.services import outbox
from missive_server.services.outbox import RetryPolicy
from tests.api.drafts_support import T0, email_draft, make_world, post_draft
from tests.delivery.webhook_support import make_hook, outbox_row, queue
from tests.factories import Factory
from tests.web.support import post_sign_in


def _csrf(client: TestClient, path: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text)
    assert found is not None
    return found.group(1)


def test_outbox_and_deliveries_are_scoped_to_the_users_organizations(
    client: TestClient, factory: Factory, session: Session
) -> None:
    world = make_world(factory)
    globex = factory.organization("Other Inc")
    gina = factory.user("gina@other.test", organizations={globex: "owner"})
    foreign = factory.conversation(globex, users=[gina], at=T0, subject="Not yours")
    body = {"drafts": email_draft(subject="Ours", send=True, conversation=world.conversation.id)}
    assert post_draft(client, world.token, body).status_code == 201
    theirs = outbox.enqueue(session, kind="mail", now=T0, conversation_id=foreign.id,
                            policy=RetryPolicy(max_attempts=1, backoff_seconds=1))  # fmt: skip
    theirs.raw = b"Subject: Secret of Other Inc\r\n\r\nhidden"
    session.commit()
    own_hook = make_hook(session, user=world.alice, org=world.org, url="https://crm.acme.test/a")
    foreign_hook = make_hook(session, user=gina, org=globex, url="https://crm.other.test/b")
    own_delivery = queue(session, own_hook)
    foreign_delivery = queue(session, foreign_hook)

    post_sign_in(client, token=world.token)
    page = client.get("/outbox").text
    assert "Ours" in page
    assert "Paul" in page
    assert "Secret of Other Inc" not in page
    assert '<a href="/outbox" aria-current="page">' in page
    assert client.get(f"/outbox/{theirs.id}/raw").status_code == 404

    page = client.get("/deliveries").text
    assert "crm.acme.test/a" in page
    assert "crm.other.test" not in page
    assert '<a href="/deliveries" aria-current="page">' in page
    csrf = _csrf(client, "/deliveries")
    refused = client.post(f"/deliveries/{foreign_delivery.id}/redeliver", data={"csrf": csrf})
    assert refused.status_code == 404
    forged = client.post(f"/deliveries/{own_delivery.id}/redeliver", data={"csrf": "x"})
    assert forged.status_code == 403
    row = outbox_row(session, own_delivery.id)
    row.status, row.attempts = "failed", 6
    session.commit()
    done = client.post(f"/deliveries/{own_delivery.id}/redeliver", data={"csrf": csrf},
                       follow_redirects=False)  # fmt: skip
    assert done.status_code == 303
    assert outbox_row(session, own_delivery.id).status == "pending"
    assert outbox_row(session, own_delivery.id).attempts == 0
