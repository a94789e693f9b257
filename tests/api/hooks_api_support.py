"""Helpers shared by the hooks API tests: a fake DNS behind the URL check, and hook rows."""

from __future__ import annotations

import socket
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.api import hooks as hooks_api
from missive_server.clock import FrozenClock
from missive_server.db.models import Hook, Organization, User
from missive_server.ids import new_id
from tests.conftest import bearer

PUBLIC = "93.184.215.14"
DNS: dict[str, list[str]] = {
    "hooks.example.com": [PUBLIC],
    "intranet.example.com": ["10.0.0.5"],
    "localhost": ["127.0.0.1"],
}
URL = "https://hooks.example.com/missive"


def fake_getaddrinfo(host: str, port: int, *_: Any, **__: Any) -> Sequence[tuple[Any, ...]]:
    if host not in DNS:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in DNS[host]]


@pytest.fixture(autouse=True)
def no_real_dns(app: FastAPI) -> Iterator[None]:
    app.dependency_overrides[hooks_api.resolver] = lambda: fake_getaddrinfo
    yield
    app.dependency_overrides.clear()


def configure(client: TestClient, **changes: Any) -> None:
    """Change the running app's settings (``emulator``, ``webhook_allow_private``)."""
    app: Any = client.app
    app.state.settings = app.state.settings.model_copy(update=changes)


def post(client: TestClient, token: str, body: Any) -> Any:
    return client.post("/v1/hooks", headers=bearer(token), json=body)


def create(client: TestClient, token: str, **fields: Any) -> dict[str, Any]:
    response = post(client, token, {"hooks": {"type": "new_comment", "url": URL, **fields}})
    assert response.status_code == 201, response.json()
    hook: dict[str, Any] = response.json()["hooks"]
    return hook


def hook_row(
    session: Session,
    clock: FrozenClock,
    user: User,
    organization: Organization | None = None,
    **fields: Any,
) -> Hook:
    """A hook written with the ORM (as the other parts' tests do)."""
    hook = Hook(
        id=new_id(),
        type="new_comment",
        url=URL,
        secret="s" * 32,
        description="Webhook: new_comment",
        organization_id=organization.id if organization else None,
        user_id=user.id,
        is_task=False,
        enabled=True,
        consecutive_failures=0,
        created_at=clock.now(),
    )
    for name, value in fields.items():
        setattr(hook, name, value)
    session.add(hook)
    session.commit()
    return hook


def wire(hook: Hook, **changes: Any) -> dict[str, Any]:
    return {
        "id": hook.id,
        "type": hook.type,
        "url": hook.url,
        "description": hook.description,
        "organization": hook.organization_id,
        "user": hook.user_id,
        "content_contains": hook.content_contains,
        "content_starts_with": hook.content_starts_with,
        "content_ends_with": hook.content_ends_with,
        "is_task": hook.is_task,
        "author": hook.author_id,
        "mention": hook.mention_id,
        "from_eq": hook.from_eq,
        "subject_contains": hook.subject_contains,
        "enabled": hook.enabled,
        "consecutive_failures": hook.consecutive_failures,
        "disabled_at": hook.disabled_at,
        "created_at": hook.created_at,
        **changes,
    }
