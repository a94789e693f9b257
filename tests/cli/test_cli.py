"""The command line, run in-process with Typer's runner against the test database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from starlette.testclient import TestClient
from typer.testing import CliRunner, Result

from missive_server.cli import app as cli
from missive_server.db.base import Base
from missive_server.services.seed.demo import DEMO_OWNER_TOKEN
from tests.conftest import bearer
from tests.factories import Factory

ISSUE_EXAMPLE: dict[str, Any] = {
    "organizations": [{"name": "Acme"}],
    "users": [
        {
            "email": "alice@acme.test",
            "name": "Alice",
            "organizations": {"Acme": "owner"},
            "token": "missive_pat-optional-fixed-token",
        }
    ],
    "teams": [
        {
            "name": "Support",
            "organization": "Acme",
            "active_members": ["alice@acme.test"],
            "observers": [],
        }
    ],
    "accounts": [
        {
            "type": "email",
            "address": "support@acme.test",
            "name": "Acme Support",
            "organization": "Acme",
            "team": "Support",
            "users": ["alice@acme.test"],
        },
        {
            "type": "custom",
            "name": "Chat",
            "organization": "Acme",
            "webhook_url": "https://example.test/hook",
            "secret": "s3cret",
        },
    ],
    "shared_labels": [{"name": "VIP", "organization": "Acme", "parent": None}],
    "contact_books": [{"name": "Customers", "organization": "Acme"}],
    "conversations": [
        {
            "organization": "Acme",
            "account": "support@acme.test",
            "team": "Support",
            "users": ["alice@acme.test"],
            "shared_labels": ["VIP"],
            "messages": [
                {
                    "from_field": {"address": "c@example.com", "name": "C"},
                    "to_fields": [{"address": "support@acme.test"}],
                    "subject": "Hello",
                    "body": "<p>Hi</p>",
                    "delivered_at": 1700000000,
                }
            ],
            "comments": [{"author": "alice@acme.test", "body": "On it"}],
        }
    ],
}


@pytest.fixture
def run(database_url: str) -> Any:
    runner = CliRunner()

    def invoke(*args: str, stdin: str | None = None) -> Result:
        env = {"MISSIVE_DATABASE_URL": database_url, "MISSIVE_PUBLIC_URL": "http://127.0.0.1:8080"}
        return runner.invoke(cli, list(args), env=env, input=stdin)

    return invoke


def row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table.name: connection.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
        }


def one_line(text: str) -> str:
    return " ".join(text.split())


def write(tmp_path: Path, document: dict[str, Any]) -> str:
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return str(path)


def test_migrate_reports_what_it_did(tmp_path: Path) -> None:
    env = {"MISSIVE_DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}"}
    first = CliRunner().invoke(cli, ["migrate"], env=env)
    again = CliRunner().invoke(cli, ["migrate"], env=env)

    assert first.exit_code == 0, first.output
    assert "migrated from an empty database to" in first.stdout
    assert again.exit_code == 0
    assert "already at the latest revision" in again.stdout


def test_created_token_authenticates_until_revoked(
    run: Any, client: TestClient, factory: Factory
) -> None:
    factory.member(factory.organization("Acme"), email="dana@acme.test")

    created = run("token", "create", "--email", "Dana@acme.test", "--name", "laptop")
    token = created.stdout.strip()

    assert created.exit_code == 0, created.output
    assert token.startswith("missive_pat-")
    assert client.get("/v1/organizations", headers=bearer(token)).status_code == 200

    revoked = run("token", "revoke", token)
    assert revoked.exit_code == 0, revoked.output
    assert client.get("/v1/organizations", headers=bearer(token)).status_code == 401
    again = run("token", "revoke", token)
    assert again.exit_code == 1
    assert "No active token matches" in one_line(again.stderr)


def test_token_for_unknown_email_says_how_to_fix(run: Any) -> None:
    result = run("token", "create", "--email", "nobody@acme.test")

    assert result.exit_code == 1
    assert result.stdout == ""
    assert (
        "No user has the email 'nobody@acme.test'; create one with `missive-server seed` or `demo`"
        in one_line(result.stderr)
    )


def test_demo_prints_a_token_that_lists_the_demo_inbox(run: Any, client: TestClient) -> None:
    result = run("demo")

    assert result.exit_code == 0, result.output
    assert DEMO_OWNER_TOKEN in result.stdout
    curl = f'curl -H "Authorization: Bearer {DEMO_OWNER_TOKEN}" "http://127.0.0.1:8080/v1/conversations?inbox=true"'
    assert curl in result.stdout
    inbox = client.get("/v1/conversations?inbox=true", headers=bearer(DEMO_OWNER_TOKEN))
    assert inbox.status_code == 200
    subjects = {c["subject"] or c["latest_message_subject"] for c in inbox.json()["conversations"]}
    assert subjects == {
        "New trial: Wayne Enterprises",
        "Chat with Sam",
        "Re: Renewal for 50 seats",
        "Invoice INV-2024-118 charged twice",
        "Re: Can't log in after resetting my password",
    }


def test_demo_mailboxes_have_closed_flagged_assigned_and_labelled(
    run: Any, client: TestClient
) -> None:
    assert run("demo").exit_code == 0
    headers = bearer(DEMO_OWNER_TOKEN)

    def subjects(query: str, token_headers: dict[str, str] = headers) -> list[str]:
        body = client.get(f"/v1/conversations?{query}", headers=token_headers).json()
        return [c["latest_message_subject"] for c in body["conversations"]]

    assert subjects("closed=true") == ["Re: Feature request: export reports to CSV"]
    assert subjects("flagged=true") == ["Re: Renewal for 50 seats"]
    assert subjects("assigned=true", bearer("missive_pat-demo-bruno-admin")) == [
        "Invoice INV-2024-118 charged twice"
    ]
    posts = client.get("/v1/conversations?inbox=true", headers=headers).json()["conversations"][0]
    assert posts["shared_label_names"] == "Customers"


def test_demo_twice_creates_nothing_new(run: Any, engine: Engine) -> None:
    assert run("demo").exit_code == 0
    seeded = row_counts(engine)

    again = run("demo")
    quiet = run("demo", "--quiet-if-seeded")

    assert again.exit_code == 0, again.output
    assert quiet.exit_code == 0, quiet.output
    assert "already seeded" in quiet.stdout
    assert DEMO_OWNER_TOKEN in quiet.stdout
    assert row_counts(engine) == seeded


def test_quiet_demo_says_when_its_token_was_revoked(run: Any) -> None:
    assert run("demo").exit_code == 0
    assert run("token", "revoke", DEMO_OWNER_TOKEN).exit_code == 0

    quiet = run("demo", "--quiet-if-seeded")

    assert quiet.exit_code == 0
    assert "The demo token was revoked" in one_line(quiet.stdout)
    assert DEMO_OWNER_TOKEN not in quiet.stdout


def test_seed_prints_ids_and_tokens_and_is_idempotent(
    run: Any, tmp_path: Path, engine: Engine, client: TestClient
) -> None:
    path = write(tmp_path, ISSUE_EXAMPLE)

    first = run("seed", path)
    counts = row_counts(engine)
    second = run("seed", path)

    assert first.exit_code == 0, first.output
    ids = json.loads(first.stdout)
    assert set(ids) == {
        "organizations",
        "users",
        "teams",
        "accounts",
        "shared_labels",
        "conversations",
        "contact_books",
        "tokens",
    }
    assert set(ids["accounts"]) == {"support@acme.test", "Chat"}
    assert list(ids["conversations"]) == ["Hello"]
    assert ids["tokens"] == {"alice@acme.test": "missive_pat-optional-fixed-token"}
    assert list(ids["contact_books"]) == ["Customers"]
    assert second.exit_code == 0, second.output
    assert json.loads(second.stdout) == ids
    assert row_counts(engine) == counts
    orgs = client.get(
        "/v1/organizations", headers=bearer("missive_pat-optional-fixed-token")
    ).json()
    assert orgs == {"organizations": [{"id": ids["organizations"]["Acme"], "name": "Acme"}]}


def test_seed_reads_stdin(run: Any) -> None:
    result = run("seed", "-", stdin=json.dumps({"organizations": [{"name": "Piped"}]}))

    assert result.exit_code == 0, result.output
    assert list(json.loads(result.stdout)["organizations"]) == ["Piped"]


def test_bad_reference_names_the_entry_and_seeds_nothing(
    run: Any, tmp_path: Path, engine: Engine
) -> None:
    document = {
        **ISSUE_EXAMPLE,
        "teams": [{**ISSUE_EXAMPLE["teams"][0], "active_members": ["bob@acme.test"]}],
    }
    before = row_counts(engine)

    result = run("seed", write(tmp_path, document))

    assert result.exit_code == 1
    assert (
        "teams[0] (Support): active_members: no user 'bob@acme.test' in this file or the database"
        in one_line(result.stderr)
    )
    assert row_counts(engine) == before


def test_unknown_field_is_rejected_with_its_path(run: Any, tmp_path: Path, engine: Engine) -> None:
    user = {**ISSUE_EXAMPLE["users"][0], "organisations": {"Acme": "owner"}}
    before = row_counts(engine)

    result = run("seed", write(tmp_path, {**ISSUE_EXAMPLE, "users": [user]}))

    assert result.exit_code == 1
    assert "users[0] (alice@acme.test): organisations: unknown field" in one_line(result.stderr)
    assert row_counts(engine) == before


def test_malformed_json_and_missing_file(run: Any, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"organizations": [}', encoding="utf-8")

    assert "line 1 column 20" in one_line(run("seed", str(broken)).stderr)
    missing = run("seed", str(tmp_path / "missing.json"))
    assert missing.exit_code == 1
    assert "Cannot read" in missing.stderr


def test_demo_on_another_port_prints_a_curl_line_for_that_port(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``make run PORT=18080`` passes the port to ``demo`` (issue 16, item 7)."""
    monkeypatch.delenv("MISSIVE_PUBLIC_URL", raising=False)
    env = {"MISSIVE_DATABASE_URL": database_url, "MISSIVE_PORT": "18080"}

    result = CliRunner().invoke(cli, ["demo"], env=env)

    assert result.exit_code == 0, result.output
    assert '"http://127.0.0.1:18080/v1/conversations?inbox=true"' in result.stdout
