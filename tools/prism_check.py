"""Stoplight Prism as a validation proxy in front of a live server: every request of a smoke
run goes through ``prism proxy``, which checks each request and response against
``/openapi.json``; any response violation (or a request violation on a request meant to be
valid) fails the run. ``python tools/prism_check.py`` (needs node and npm; installs
``@stoplight/prism-cli`` into ``$PRISM_HOME``, default ``~/.cache/missive-prism``).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from missive_server.testing import MissiveServer, running

PRISM_VERSION = "5.14.2"
HOME = Path(os.environ.get("PRISM_HOME", Path.home() / ".cache/missive-prism"))
#: Requests that are invalid on purpose: Prism reports them, rightly.
EXPECTED_REQUEST_VIOLATIONS = ("Invalid security scheme used",)


def prism() -> Path:
    binary = HOME / "node_modules/.bin/prism"
    if not binary.exists():
        HOME.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "npm",
                "install",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(HOME),
                f"@stoplight/prism-cli@{PRISM_VERSION}",
            ],
            check=True,
        )
    return binary


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def smoke(proxy: str, server: MissiveServer) -> list[tuple[str, int]]:
    """The calls of a typical integration; returns (call, status) for the report."""
    seen: list[tuple[str, int]] = []
    auth = server.headers
    with httpx.Client(base_url=proxy, timeout=30) as client:

        def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
            response = client.request(method, path, **kwargs)
            seen.append((f"{method} {path}", response.status_code))
            return response

        cid = server.ids["conversations"]["demo-login-problem"]
        call("GET", "/v1/users")  # no token: 401
        call("GET", "/v1/users", headers=auth)
        call("GET", "/v1/organizations", headers=auth)
        call("GET", "/v1/conversations", params={"inbox": "true", "limit": 5}, headers=auth)
        call("GET", f"/v1/conversations/{cid}", headers=auth)
        call("GET", "/v1/conversations/00000000-0000-4000-8000-000000000000", headers=auth)
        post = {
            "conversation": cid,
            "text": "via prism",
            "notification": {"title": "t", "body": "b"},
        }
        made = call("POST", "/v1/posts", json={"posts": post}, headers=auth).json()["posts"]
        call("GET", f"/v1/conversations/{made['conversation']}/posts", headers=auth)
        draft = {
            "conversation": cid,
            "body": "Hi",
            "send": True,
            "from_field": {"address": "support@acme.test"},
            "to_fields": [{"address": "paul@example.com"}],
        }
        sent = call("POST", "/v1/drafts", json={"drafts": draft}, headers=auth).json()["drafts"]
        call("GET", f"/v1/messages/{sent['id']}", headers=auth)
        call(
            "PATCH",
            f"/v1/conversations/{cid}",
            json={"conversations": [{"close": True}]},
            headers=auth,
        )
        call("GET", "/v1/tasks", headers=auth)
        call("GET", "/v1/shared_labels", headers=auth)
        call(
            "POST",
            "/_emulator/inbound",
            json={
                "from": "a@example.com",
                "to": ["support@acme.test"],
                "subject": "x",
                "text": "y",
            },
        )
        call("GET", "/_emulator/outbox", params={"limit": 5})
        call("POST", "/_emulator/clock", json={"advance": 60})
    return seen


def violations(log: str) -> list[str]:
    found = re.findall(r"Violation: (.*)", log)
    return [v for v in found if not v.endswith(EXPECTED_REQUEST_VIOLATIONS)]


def main() -> int:
    binary = prism()
    with running(seed="demo") as server, tempfile.TemporaryDirectory() as workdir:
        document = Path(workdir) / "openapi.json"
        with server.client() as client:  # the document's first build takes seconds
            document.write_text(json.dumps(client.get("/openapi.json").json()))
        port = free_port()
        log_path = Path(workdir) / "prism.log"
        with log_path.open("w") as log:
            process = subprocess.Popen(
                [str(binary), "proxy", "-p", str(port), str(document), server.url],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                proxy = f"http://127.0.0.1:{port}"
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline and "is listening" not in log_path.read_text():
                    if process.poll() is not None:
                        sys.exit(f"prism exited:\n{log_path.read_text()}")
                    time.sleep(0.2)
                seen = smoke(proxy, server)
            finally:
                process.terminate()
                process.wait(10)
        problems = violations(log_path.read_text())
    for name, status in seen:
        print(f"{status} {name}")
    print(f"prism proxy {PRISM_VERSION}: {len(seen)} calls, {len(problems)} violation(s)")
    for problem in problems:
        print("  " + problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
