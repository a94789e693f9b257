"""The public URL follows ``serve``'s host and port when MISSIVE_PUBLIC_URL is unset (issue 16,
item 7): ``make run PORT=18080`` gives links to :18080, not :8080."""

from __future__ import annotations

import pytest

from missive_server.settings import Settings


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({}, "http://127.0.0.1:8080"),
        ({"MISSIVE_PORT": "18080"}, "http://127.0.0.1:18080"),
        ({"MISSIVE_HOST": "0.0.0.0", "MISSIVE_PORT": "9000"}, "http://127.0.0.1:9000"),
        ({"MISSIVE_HOST": "::", "MISSIVE_PORT": "9000"}, "http://[::1]:9000"),
        ({"MISSIVE_HOST": "inbox.local", "MISSIVE_PORT": "81"}, "http://inbox.local:81"),
        (
            {"MISSIVE_PORT": "18080", "MISSIVE_PUBLIC_URL": "https://inbox.example.com/"},
            "https://inbox.example.com",
        ),
    ],
)
def test_public_base(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], expected: str
) -> None:
    for name in ("MISSIVE_HOST", "MISSIVE_PORT", "MISSIVE_PUBLIC_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    assert Settings().public_base == expected
