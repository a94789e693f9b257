"""Signing in over HTTP as a browser does: the sign-in page first (its form carries the CSRF
token of the signed-out double-submit cookie), then the POST."""

from __future__ import annotations

import re

from httpx import Response
from starlette.testclient import TestClient

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def form_csrf(client: TestClient, path: str = "/sign-in") -> str:
    found = CSRF.search(client.get(path).text)
    assert found is not None
    return found.group(1)


def post_sign_in(client: TestClient, **fields: str) -> Response:
    data = {"csrf": form_csrf(client), **fields}
    return client.post("/sign-in", data=data, follow_redirects=False)
