"""The ``missive_server`` fixtures as a user's test suite sees them: each test writes a test file
that uses only the public fixture and its helpers, runs it in a pytest session of its own (the
plugin loaded from the installed entry point) and checks every inner test passed."""

from __future__ import annotations

from collections.abc import Callable

import pytest

Inner = Callable[..., pytest.RunResult]

HEADER = """
import hashlib, hmac, json, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
"""


A_FRESH_DEMO_DATABASE_PER_TEST = (
    HEADER
    + """
SEEN = {}

def test_serves_the_demo_organization(missive_server):
    assert missive_server.url.startswith("http://127.0.0.1:")
    assert not missive_server.url.endswith("/v1")
    users = httpx.get(missive_server.url + "/v1/users", headers=missive_server.headers)
    assert users.status_code == 200
    assert {u["email"] for u in users.json()["users"]} == set(missive_server.tokens)
    org = missive_server.ids["organizations"]["Acme Inc."]
    assert [o["id"] for o in httpx.get(
        missive_server.url + "/v1/organizations", headers=missive_server.headers
    ).json()["organizations"]] == [org]
    assert httpx.get(missive_server.url + "/v1/users").status_code == 401

def test_a_post_lands_in_a_conversation(missive_server):
    conversation = missive_server.ids["conversations"]["demo-login-problem"]
    with missive_server.client() as client:
        created = client.post("/v1/posts", json={"posts": {
            "conversation": conversation, "text": "Checked the logs", "notification":
            {"title": "Ops", "body": "Checked"}}})
        assert created.status_code == 201, created.text
        posts = client.get(f"/v1/conversations/{conversation}/posts").json()["posts"]
    assert "Checked the logs" in [p["text"] for p in posts]
    SEEN["url"] = missive_server.database_url

def test_the_next_test_has_a_fresh_copy(missive_server):
    conversation = missive_server.ids["conversations"]["demo-login-problem"]
    with missive_server.client() as client:
        posts = client.get(f"/v1/conversations/{conversation}/posts").json()["posts"]
    assert "Checked the logs" not in [p["text"] for p in posts]
    assert missive_server.database_url != SEEN["url"]

def test_the_session_server_keeps_writes(missive_server_session):
    with missive_server_session.client() as client:
        made = client.post("/v1/posts", json={"posts": {
            "text": "kept", "notification": {"title": "t", "body": "b"},
            "organization": missive_server_session.ids["organizations"]["Acme Inc."]}})
        assert made.status_code == 201, made.text
    SEEN["session_post"] = made.json()["posts"]["conversation"]

def test_the_session_server_still_has_them(missive_server_session):
    with missive_server_session.client() as client:
        got = client.get(f"/v1/conversations/{SEEN['session_post']}")
    assert got.status_code == 200
"""
)


OUTBOX_AND_CLOCK = (
    HEADER
    + """
DRAFT = {"body": "Hello Bob", "subject": "Your order", "from_field":
         {"address": "support@acme.test"}, "to_fields": [{"address": "bob@example.com"}]}

def test_a_sent_draft_appears_in_the_outbox(missive_server):
    with missive_server.client() as client:
        sent = client.post("/v1/drafts", json={"drafts": {**DRAFT, "send": True}})
    assert sent.status_code == 201, sent.text
    [mail] = missive_server.outbox(kind="mail")
    assert (mail["subject"], mail["status"], mail["to"]) == (
        "Your order", "sent", [{"address": "bob@example.com", "name": None}])
    assert "Hello Bob" in mail["raw"]

def test_advancing_the_clock_sends_a_scheduled_draft(missive_server):
    start = missive_server.clock.now()
    with missive_server.client() as client:
        draft = {**DRAFT, "subject": "Later", "send_at": start + 3600}
        assert client.post("/v1/drafts", json={"drafts": draft}).status_code == 201
    assert missive_server.outbox(kind="mail") == []
    assert missive_server.clock.advance(3600) >= start + 3600
    [mail] = missive_server.outbox(kind="mail")
    assert (mail["subject"], mail["status"]) == ("Later", "sent")

def test_set_freeze_unfreeze(missive_server):
    assert missive_server.clock.set(2_000_000_000) >= 2_000_000_000
    frozen = missive_server.clock.freeze()
    assert missive_server.clock.now() == frozen
    assert missive_server.clock.advance(60) == frozen + 60
    assert missive_server.clock.unfreeze() >= frozen + 60

def test_each_test_starts_on_system_time(missive_server):
    import time
    assert abs(missive_server.clock.now() - time.time()) < 60
"""
)


INBOUND_MAIL_AND_SIGNED_WEBHOOKS = (
    HEADER
    + """
@pytest.fixture
def receiver():
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((dict(self.headers), body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()
    thread.join()
    server.server_close()

def test_a_webhook_arrives_signed(missive_server, receiver):
    url, received = receiver
    secret = "a-signing-secret-of-ours"
    with missive_server.client() as client:
        hook = client.post("/v1/hooks", json={"hooks": {
            "type": "incoming_email", "url": url, "secret": secret,
            "organization": missive_server.ids["organizations"]["Acme Inc."]}})
    assert hook.status_code == 201, hook.text
    got = missive_server.inbound(
        from_="Paul <paul@example.com>", to=["support@acme.test"], subject="Refund?",
        text="Where is my refund?")
    [delivery] = got["deliveries"]
    assert delivery["created"] is True

    [sent] = missive_server.deliveries()
    assert sent["hook"] == hook.json()["hooks"]["id"]
    [(headers, body)] = received
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Hook-Signature"] == "sha256=" + expected
    assert json.loads(body)["conversation"]["id"] == delivery["conversation"]

def test_inbound_raw_message(missive_server):
    raw = ("From: Ann <ann@example.com>\\r\\nTo: support@acme.test\\r\\n"
           "Subject: Raw hello\\r\\nMessage-ID: <raw-1@example.com>\\r\\n\\r\\nBody\\r\\n")
    [delivery] = missive_server.inbound(raw=raw)["deliveries"]
    with missive_server.client() as client:
        got = client.get(f"/v1/conversations/{delivery['conversation']}").json()
    assert got["conversations"][0]["latest_message_subject"] == "Raw hello"

def test_a_refused_control_request_raises(missive_server):
    from missive_server.testing import EmulatorError
    with pytest.raises(EmulatorError) as refused:
        missive_server.inbound(subject="no sender")
    assert refused.value.status == 400
"""
)


FAULTS = (
    HEADER
    + """
def test_the_next_requests_fail_then_recover(missive_server):
    fault = missive_server.fault("/v1/conversations*", status=429, method="GET", count=2)
    assert fault["remaining"] == 2
    with missive_server.client() as client:
        first = client.get("/v1/conversations", params={"all": "true"})
        assert (first.status_code, first.json()) == (
            429, {"error": {"message": "Rate limit exceeded"}})
        assert "Retry-After" in first.headers
        assert client.get("/v1/conversations", params={"all": "true"}).status_code == 429
        assert client.get("/v1/conversations", params={"all": "true"}).status_code == 200

def test_clear_faults_disarms(missive_server):
    missive_server.fault("/v1/users", status=500, count=5)
    missive_server.clear_faults()
    with missive_server.client() as client:
        assert client.get("/v1/users").status_code == 200

def test_latency(missive_server):
    missive_server.fault("/v1/users", latency_ms=300)
    with missive_server.client() as client:
        slow = client.get("/v1/users")
    assert slow.status_code == 200
    assert slow.elapsed.total_seconds() >= 0.3
    missive_server.fault("/v1/users", status=500)  # left armed for the next test

def test_faults_do_not_outlive_their_test(missive_server):
    with missive_server.client() as client:
        assert client.get("/v1/users").status_code == 200
"""
)


SEEDING_AND_RESET = (
    HEADER
    + """
SHOP = {
    "organizations": [{"name": "Shop"}],
    "users": [
        {"email": "ops@shop.test", "organizations": {"Shop": "admin"}, "token": "tok-ops-0001"},
        {"email": "boss@shop.test", "organizations": {"Shop": "owner"}, "token": "tok-boss-0001"},
    ],
    "teams": [{"name": "Desk", "organization": "Shop", "active_members": ["ops@shop.test"]}],
}

@pytest.mark.missive_seed(SHOP)
def test_the_marker_seeds_a_document(missive_server):
    assert missive_server.token == "tok-boss-0001"
    assert set(missive_server.ids["teams"]) == {"Desk"}
    with missive_server.client() as client:
        teams = client.get("/v1/teams").json()["teams"]
    assert [t["id"] for t in teams] == [missive_server.ids["teams"]["Desk"]]

@pytest.mark.missive_seed(None)
def test_an_empty_database(missive_server):
    assert (missive_server.token, missive_server.ids) == (None, {})
    assert httpx.get(missive_server.url + "/v1/users").status_code == 401

def test_seed_adds_to_the_running_server(missive_server):
    result = missive_server.seed(SHOP)
    assert missive_server.ids["teams"]["Desk"] == result["ids"]["teams"]["Desk"]
    assert missive_server.token == "missive_pat-demo-alice-owner"
    assert missive_server.tokens["boss@shop.test"] == "tok-boss-0001"
    with missive_server.client("tok-boss-0001") as client:
        assert client.get("/v1/teams").json()["teams"][0]["name"] == "Desk"

def test_reset_empties_then_seeds(missive_server):
    missive_server.fault("/v1/users", status=500)
    missive_server.clock.advance(3600)
    emptied = missive_server.reset()
    assert emptied["deleted"]["users"] == 3
    assert (missive_server.token, missive_server.ids) == (None, {})
    missive_server.reset(seed=SHOP)
    assert missive_server.token == "tok-boss-0001"
    with missive_server.client() as client:
        assert client.get("/v1/users").status_code == 200  # the fault went with the reset
    missive_server.reset(seed="demo")
    assert missive_server.token == "missive_pat-demo-alice-owner"
"""
)


def test_a_fresh_demo_database_per_test(inner: Inner) -> None:
    result = inner(A_FRESH_DEMO_DATABASE_PER_TEST)
    result.assert_outcomes(passed=5)


def test_outbox_and_clock(inner: Inner) -> None:
    result = inner(OUTBOX_AND_CLOCK)
    result.assert_outcomes(passed=4)


def test_inbound_mail_and_signed_webhooks(inner: Inner) -> None:
    result = inner(INBOUND_MAIL_AND_SIGNED_WEBHOOKS)
    result.assert_outcomes(passed=3)


def test_faults(inner: Inner) -> None:
    result = inner(FAULTS)
    # Needs the inner tests to run in file order: the last one follows an armed, unused fault.
    result.assert_outcomes(passed=4)


def test_seeding_and_reset(inner: Inner) -> None:
    result = inner(SEEDING_AND_RESET)
    result.assert_outcomes(passed=4)
