"""Records the OpenAPI document's examples from a live server seeded with the demo
organization: ``python tools/openapi_examples.py`` rewrites
``src/missive_server/api/openapi_examples.json`` (read by ``api/openapi.py``).

Each call is made for real and must answer the status it expects, so every example is a
request the server accepts and the response it gave. ``tests/api/test_openapi_examples.py``
validates the recorded examples against the current schemas.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from missive_server.testing import MissiveServer, running

TARGET = Path(__file__).parent.parent / "src/missive_server/api/openapi_examples.json"
#: Long lists are cut to this many items: an example shows the shape, not the dataset.
MAX_ITEMS = 2


def shorten(value: Any) -> Any:
    if isinstance(value, list):
        return [shorten(v) for v in value[:MAX_ITEMS]]
    if isinstance(value, dict):
        return {k: shorten(v) for k, v in value.items()}
    if isinstance(value, str) and len(value) > 600:
        return value[:600] + "..."
    return value


class Recorder:
    def __init__(self, server: MissiveServer) -> None:
        self.server = server
        self.client = server.client()
        self.examples: dict[str, dict[str, Any]] = {}

    def call(
        self,
        method: str,
        template: str,
        url: str | None = None,
        *,
        body: Any = None,
        status: int = 200,
        params: dict[str, Any] | None = None,
    ) -> Any:
        response = self.client.request(method, url or template, json=body, params=params)
        if response.status_code != status:
            sys.exit(f"{method} {url or template}: {response.status_code} {response.text}")
        recorded: dict[str, Any] = {"status": str(status), "response": shorten(response.json())}
        if body is not None:
            recorded["request"] = body
        self.examples[f"{method} {template}"] = recorded
        return response.json()


def record_reads(r: Recorder, ids: dict[str, dict[str, str]]) -> dict[str, str]:
    cid = ids["conversations"]["demo-login-problem"]
    posts_cid = ids["conversations"]["demo-website-chat"]
    r.call("GET", "/v1/organizations")
    r.call("GET", "/v1/users")
    r.call("GET", "/v1/teams")
    r.call("GET", "/v1/shared_labels")
    r.call("GET", "/v1/conversations", params={"inbox": "true", "limit": 2})
    r.call("GET", "/v1/conversations/{conversation_id}", f"/v1/conversations/{cid}")
    messages = r.call(
        "GET", "/v1/conversations/{conversation_id}/messages", f"/v1/conversations/{cid}/messages"
    )["messages"]
    r.call(
        "GET", "/v1/conversations/{conversation_id}/comments", f"/v1/conversations/{cid}/comments"
    )
    r.call("GET", "/v1/conversations/{conversation_id}/drafts", f"/v1/conversations/{cid}/drafts")
    r.call(
        "GET", "/v1/conversations/{conversation_id}/posts", f"/v1/conversations/{posts_cid}/posts"
    )
    mid = messages[0]["id"]
    r.call("GET", "/v1/messages/{message_ids}", f"/v1/messages/{mid}")
    r.call("GET", "/v1/messages", params={"email_message_id": messages[0]["email_message_id"]})
    task = r.call("GET", "/v1/tasks")["tasks"][0]
    r.call("GET", "/v1/tasks/{task_id}", f"/v1/tasks/{task['id']}")
    response = r.call("GET", "/v1/responses")["responses"][0]
    r.call("GET", "/v1/responses/{ids}", f"/v1/responses/{response['id']}")
    books = r.call("GET", "/v1/contact_books")["contact_books"]
    contacts = r.call("GET", "/v1/contacts", params={"contact_book": books[0]["id"]})
    contact = contacts["contacts"][0]["id"]
    r.call("GET", "/v1/contacts/{contact_id}", f"/v1/contacts/{contact}")
    r.call("GET", "/v1/contact_groups", params={"contact_book": books[0]["id"], "kind": "group"})
    return {
        "conversation": cid,
        "task": task["id"],
        "response": response["id"],
        "contact": contact,
        "book": books[0]["id"],
    }


def record_writes(r: Recorder, ids: dict[str, dict[str, str]], found: dict[str, str]) -> None:
    org = ids["organizations"]["Acme Inc."]
    cid = found["conversation"]
    chat = ids["accounts"]["Website chat"]
    post = r.call(
        "POST",
        "/v1/posts",
        status=201,
        body={
            "posts": {
                "conversation": cid,
                "username": "Billing bot",
                "text": "Refund issued: **$49.00**",
                "notification": {"title": "Billing", "body": "Refund issued"},
            }
        },
    )["posts"]
    r.call("DELETE", "/v1/posts/{post_id}", f"/v1/posts/{post['id']}")
    r.call(
        "POST",
        "/v1/messages",
        status=201,
        body={
            "messages": {
                "account": chat,
                "body": "Hi, is anyone there?",
                "from_field": {"id": "visitor-42", "username": "Visitor 42", "name": "Visitor 42"},
                "to_fields": [{"id": "acme", "name": "Acme"}],
            }
        },
    )
    draft = r.call(
        "POST",
        "/v1/drafts",
        status=201,
        body={
            "drafts": {
                "conversation": cid,
                "subject": "Re: Cannot log in",
                "body": "Hi Paul, try again now.",
                "from_field": {"address": "support@acme.test", "name": "Acme Support"},
                "to_fields": [{"address": "paul@example.com"}],
            }
        },
    )["drafts"]
    r.call("DELETE", "/v1/drafts/{draft_id}", f"/v1/drafts/{draft['id']}")
    r.call(
        "PATCH",
        "/v1/conversations/{ids}",
        f"/v1/conversations/{cid}",
        body={
            "conversations": [
                {
                    "add_shared_labels": [ids["shared_labels"]["Billing"]],
                    "add_assignees": [ids["users"]["bruno@acme.test"]],
                    "organization": org,
                }
            ]
        },
    )
    record_directory(r, ids, found)
    record_tasks(r, ids)
    record_library(r, org, found)


def record_directory(r: Recorder, ids: dict[str, dict[str, str]], found: dict[str, str]) -> None:
    org = ids["organizations"]["Acme Inc."]
    cid = found["conversation"]
    other = ids["conversations"]["demo-double-charge"]
    r.call(
        "POST",
        "/v1/conversations/{conversation_id}/merge",
        f"/v1/conversations/{other}/merge",
        body={"target": cid},
    )
    new_team = r.call(
        "POST",
        "/v1/teams",
        status=201,
        body={"teams": [{"name": "Sales", "organization": org, "emoji": ":moneybag:"}]},
    )["teams"][0]
    r.call(
        "PATCH",
        "/v1/teams/{ids}",
        f"/v1/teams/{new_team['id']}",
        body={"teams": [{"id": new_team["id"], "color": "#0A7B83"}]},
    )
    label = r.call(
        "POST",
        "/v1/shared_labels",
        status=201,
        body={"shared_labels": [{"name": "VIP", "organization": org, "color": "#F5A623"}]},
    )["shared_labels"][0]
    r.call(
        "PATCH",
        "/v1/shared_labels/{ids}",
        f"/v1/shared_labels/{label['id']}",
        body={"shared_labels": [{"id": label["id"], "name": "Key accounts"}]},
    )


def record_tasks(r: Recorder, ids: dict[str, dict[str, str]]) -> None:
    org = ids["organizations"]["Acme Inc."]
    team = ids["teams"]["Support"]
    task = r.call(
        "POST",
        "/v1/tasks",
        status=201,
        body={
            "tasks": {
                "title": "Call Paul back",
                "organization": org,
                "team": team,
                "assignees": [ids["users"]["chloe@acme.test"]],
                "due_at": 1_900_000_000,
            }
        },
    )["tasks"]
    r.call(
        "PATCH",
        "/v1/tasks/{task_id}",
        f"/v1/tasks/{task['id']}",
        body={"tasks": {"state": "closed"}},
    )
    report = r.call(
        "POST",
        "/v1/analytics/reports",
        status=201,
        body={
            "reports": {
                "organization": org,
                "start": 1_700_000_000,
                "end": 1_700_604_800,
                "time_zone": "America/Montreal",
            }
        },
    )["reports"]
    r.server.deliver()  # reports are computed by the delivery worker
    r.call("GET", "/v1/analytics/reports/{report_id}", f"/v1/analytics/reports/{report['id']}")


def record_library(r: Recorder, org: str, found: dict[str, str]) -> None:
    made = r.call(
        "POST",
        "/v1/responses",
        status=201,
        body={
            "responses": [
                {
                    "title": "Refund sent",
                    "subject": "Your refund",
                    "organization": org,
                    "body": "<p>Your refund is on its way.</p>",
                }
            ]
        },
    )["responses"][0]
    r.call(
        "PATCH",
        "/v1/responses/{ids}",
        f"/v1/responses/{made['id']}",
        body={"responses": [{"id": made["id"], "title": "Refund issued"}]},
    )
    r.call("DELETE", "/v1/responses/{ids}", f"/v1/responses/{made['id']}")
    contact = r.call(
        "POST",
        "/v1/contacts",
        status=201,
        body={
            "contacts": [
                {
                    "contact_book": found["book"],
                    "first_name": "Paul",
                    "last_name": "Durand",
                    "infos": [{"kind": "email", "label": "work", "value": "paul@example.com"}],
                }
            ]
        },
    )
    made_id = contact["contacts"][0]["id"]
    r.call(
        "PATCH",
        "/v1/contacts/{ids}",
        f"/v1/contacts/{made_id}",
        body={"contacts": [{"id": made_id, "notes": "Prefers email"}]},
    )


def record_hooks(r: Recorder, ids: dict[str, dict[str, str]]) -> None:
    org = ids["organizations"]["Acme Inc."]
    hook = r.call(
        "POST",
        "/v1/hooks",
        status=201,
        body={
            "hooks": {
                "type": "incoming_email",
                "url": "http://127.0.0.1:8000/missive-webhook",
                "organization": org,
                "secret": "a-long-random-signing-secret",
            }
        },
    )["hooks"]
    r.call("GET", "/v1/hooks")
    r.call("GET", "/v1/hooks/{hook_id}", f"/v1/hooks/{hook['id']}")
    r.call(
        "POST",
        "/_emulator/inbound",
        body={
            "from": "Paul Durand <paul@example.com>",
            "to": ["support@acme.test"],
            "subject": "Invoice question",
            "text": "Could you resend last month's invoice?",
        },
    )
    r.server.deliver()  # the attempt fails (nothing listens there): a delivery to show
    hid = hook["id"]
    deliveries = r.call("GET", "/v1/hooks/{hook_id}/deliveries", f"/v1/hooks/{hid}/deliveries")
    did = deliveries["deliveries"][0]["id"]
    r.call(
        "POST",
        "/v1/hooks/{hook_id}/deliveries/{delivery_id}/redeliver",
        f"/v1/hooks/{hid}/deliveries/{did}/redeliver",
    )
    r.call(
        "POST",
        "/_emulator/deliveries/{delivery_id}/redeliver",
        f"/_emulator/deliveries/{did}/redeliver",
    )
    r.call("PATCH", "/v1/hooks/{hook_id}", f"/v1/hooks/{hid}", body={"hooks": {"enabled": False}})
    r.call("DELETE", "/v1/hooks/{hook_id}", f"/v1/hooks/{hook['id']}")


def record_emulator(r: Recorder) -> None:
    r.call("GET", "/_emulator/clock")
    r.call("POST", "/_emulator/clock", body={"advance": 3600})
    r.call(
        "POST",
        "/_emulator/faults",
        body={"method": "GET", "path": "/v1/conversations/*", "status": 429, "count": 1},
    )
    r.call("GET", "/_emulator/faults")
    r.call("DELETE", "/_emulator/faults")
    r.server.deliver()
    r.call("GET", "/_emulator/outbox", params={"limit": 1})
    r.call("GET", "/_emulator/deliveries", params={"limit": 2})
    r.call(
        "POST",
        "/_emulator/seed",
        body={
            "organizations": [{"name": "Globex"}],
            "users": [{"email": "hank@globex.test", "organizations": {"Globex": "owner"}}],
        },
    )
    r.call("POST", "/_emulator/reset", body={"seed": "demo"})


def main() -> None:
    # The public URL of `make run`, not the recording server's random port, in web_url/app_url.
    with running(seed="demo", settings={"public_url": "http://127.0.0.1:8080"}) as server:
        recorder = Recorder(server)
        try:
            found = record_reads(recorder, server.ids)
            record_writes(recorder, server.ids, found)
            record_hooks(recorder, server.ids)
            record_emulator(recorder)
        finally:
            recorder.client.close()
    TARGET.write_text(json.dumps(recorder.examples, indent=1, sort_keys=True) + "\n")
    print(f"{len(recorder.examples)} operations recorded in {TARGET}")


if __name__ == "__main__":
    main()
