"""Web sign-in passwords from the command line and from seed documents: ``password set``
(hidden prompt or ``--stdin``), a seed user's ``"password"``, and ``demo`` printing the demo
users' passwords; each then signs in on the web sign-in page."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient
from typer.testing import CliRunner, Result

from missive_server.app import create_app
from missive_server.cli import app as cli
from missive_server.clock import FrozenClock
from missive_server.db.models import User
from missive_server.services.seed.demo import DEMO_PASSWORDS
from missive_server.settings import Settings
from tests.web.support import post_sign_in


@pytest.fixture
def run(database_url: str) -> Any:
    runner = CliRunner()

    def invoke(*args: str, stdin: str | None = None) -> Result:
        env = {"MISSIVE_DATABASE_URL": database_url, "MISSIVE_PUBLIC_URL": "http://127.0.0.1:8080"}
        return runner.invoke(cli, list(args), env=env, input=stdin)

    return invoke


def signs_in(settings: Settings, clock: FrozenClock, engine: Engine, email: str, pw: str) -> int:
    with TestClient(create_app(settings, clock=clock, engine=engine)) as client:
        return post_sign_in(client, email=email, password=pw).status_code


SEED = {
    "organizations": [{"name": "Acme"}],
    "users": [{"email": "dana@acme.test", "organizations": {"Acme": "owner"},
               "password": "dana-secret-1"}],
}  # fmt: skip


def test_seed_password_then_cli_password_set(
    run: Any, settings: Settings, clock: FrozenClock, engine: Engine, session: Session
) -> None:
    seeded = run("seed", "-", stdin=json.dumps(SEED))
    assert seeded.exit_code == 0, seeded.output
    stored = session.scalar(select(User.password_hash).where(User.email == "dana@acme.test"))
    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert signs_in(settings, clock, engine, "dana@acme.test", "dana-secret-1") == 303
    again = run("seed", "-", stdin=json.dumps(SEED))  # idempotent: the same hash is kept
    assert again.exit_code == 0
    session.expire_all()
    assert (
        session.scalar(select(User.password_hash).where(User.email == "dana@acme.test")) == stored
    )
    changed = run("password", "set", "--email", "dana@acme.test", stdin="new-secret-22\n")
    assert changed.exit_code == 1  # prompt mode wants a confirmation: the second line is missing
    changed = run(
        "password", "set", "--email", "dana@acme.test", "--stdin", stdin="new-secret-22\n"
    )
    assert changed.exit_code == 0, changed.output
    assert signs_in(settings, clock, engine, "dana@acme.test", "dana-secret-1") == 401
    assert signs_in(settings, clock, engine, "dana@acme.test", "new-secret-22") == 303


def test_password_set_prompts_twice(
    run: Any, settings: Settings, clock: FrozenClock, engine: Engine
) -> None:
    assert run("seed", "-", stdin=json.dumps(SEED)).exit_code == 0
    typed = run(
        "password", "set", "--email", "dana@acme.test", stdin="typed-secret\ntyped-secret\n"
    )
    assert typed.exit_code == 0, typed.output
    assert "typed-secret" not in typed.output  # hidden input is not echoed
    assert signs_in(settings, clock, engine, "dana@acme.test", "typed-secret") == 303


@pytest.mark.parametrize(
    ("email", "password", "error"),
    [("dana@acme.test", "short", "at least 8"), ("nobody@acme.test", "long-enough", "No user")],
)
def test_password_set_refuses(run: Any, email: str, password: str, error: str) -> None:
    assert run("seed", "-", stdin=json.dumps(SEED)).exit_code == 0
    result = run("password", "set", "--email", email, "--stdin", stdin=password + "\n")
    assert result.exit_code == 1
    assert error in result.output


def test_demo_prints_passwords_that_sign_in(
    run: Any, settings: Settings, clock: FrozenClock, engine: Engine
) -> None:
    result = run("demo")
    assert result.exit_code == 0, result.output
    for email, password in DEMO_PASSWORDS.items():
        assert f"{email} / {password}" in result.output
    assert (
        signs_in(settings, clock, engine, "bruno@acme.test", DEMO_PASSWORDS["bruno@acme.test"])
        == 303
    )
