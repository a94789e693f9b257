"""The hostile pass of the fuzzer (issue 16, item 8): valid requests with one value made hostile.

Schemathesis generates a valid case; one leaf of its JSON body or query string is replaced by a
value real attackers and broken clients send: lone surrogates and NULs in strings, integers far
past 64 bits, timestamps far in the future, ``javascript:`` URLs. The request must not answer
5xx, and neither may a later read of what it wrote: the resource and its collection through the
API, and, for a conversation, its posts, messages, comments and web page, which must not link to
a script URL either.
"""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import strategies as st
from starlette.testclient import TestClient

HOSTILE_STRINGS = (
    "\ud800",
    "a\udfffb",
    "a\x00b",
    "\x00",
    "javascript:alert(1)",
    " JaVaScRiPt:alert(document.cookie)",
    "data:text/html,<script>alert(1)</script>",
)
#: Query strings cannot carry a lone surrogate (not UTF-8), so only these go there.
HOSTILE_QUERY = ("a\x00b", str(10**30), str(-(10**30)), str(2**63), "9" * 400)
HOSTILE_INTEGERS = (
    10**30,
    -(10**30),
    2**63,
    -(2**63) - 1,
    int("9" * 400),
    253_402_300_800,  # one second past 9999-12-31
    2**62,  # fits 64 bits, but no calendar has it
    1_700_000_000_000,  # milliseconds where seconds are expected
)
_SCRIPT_URL = re.compile(r"""(?:href|src)\s*=\s*["']?\s*(?:javascript|vbscript|data):""", re.I)
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
CONVERSATION_READS = ("", "/posts", "/messages", "/comments")


def leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    """Every string and integer in a JSON value, with its path."""
    if isinstance(value, dict):
        return [leaf for key, item in value.items() for leaf in leaves(item, (*path, key))]
    if isinstance(value, list):
        return [leaf for i, item in enumerate(value) for leaf in leaves(item, (*path, i))]
    if isinstance(value, str | int) and not isinstance(value, bool):
        return [(path, value)]
    return []


def replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = replaced(value[path[0]], path[1:], new)
    return copy


def hostile_request(
    data: st.DataObject, body: Any, query: dict[str, Any] | None
) -> tuple[Any, dict[str, Any] | None, str] | None:
    """The body and query with one leaf made hostile (and what was done), or None when the
    request has nothing to replace."""
    body_leaves = leaves(body) if body is not None else []
    query_keys = sorted(query or {})
    choices = [("body", path, old) for path, old in body_leaves]
    choices += [("query", (key,), (query or {})[key]) for key in query_keys]
    if not choices:
        return None
    where, path, old = data.draw(st.sampled_from(choices))
    if where == "query":
        new: Any = data.draw(st.sampled_from(HOSTILE_QUERY))
        return body, {**(query or {}), path[0]: new}, f"query {path[0]}={new[:40]!r}"
    pool = HOSTILE_STRINGS if isinstance(old, str) else HOSTILE_INTEGERS
    new = data.draw(st.sampled_from(pool))
    return replaced(body, path, new), query, f"body {list(path)} = {str(new)[:40]!r}"


def send(
    client: TestClient,
    method: str,
    path: str,
    body: Any,
    query: dict[str, Any] | None,
    headers: dict[str, str],
) -> Any:
    """Raw bytes from ``json.dumps``: its ASCII escapes carry lone surrogates that a client
    encoding UTF-8 itself could not send."""
    content = None if body is None else json.dumps(body).encode()
    if content is not None:
        headers = {**headers, "Content-Type": "application/json"}
    return client.request(method, path, params=query, content=content, headers=headers)


def created_ids(payload: Any) -> tuple[set[str], set[str]]:
    """(ids of anything, conversation ids) named in a response body."""
    ids: set[str] = set()
    conversations: set[str] = set()
    for path, value in leaves(payload):
        if isinstance(value, str) and _UUID.match(value) and path:
            key = next((p for p in reversed(path) if isinstance(p, str)), "")
            (conversations if key in ("conversation", "conversations") else ids).add(value)
    return ids, conversations


def later_reads(path: str, payload: Any) -> list[str]:
    """The reads that render what a write at ``path`` answered with ``payload``."""
    parts = path.strip("/").split("/")
    collection = "/" + "/".join(parts[:2]) if parts[0] == "v1" and len(parts) > 1 else None
    ids, conversations = created_ids(payload)
    reads = [collection] if collection else []
    if collection:
        reads += [f"{collection}/{i}" for i in sorted(ids)]
    reads += [
        f"/v1/conversations/{c}{tail}" for c in sorted(conversations) for tail in CONVERSATION_READS
    ]
    reads += [f"/c/{c}" for c in sorted(conversations)]
    return reads


def read_problems(client: TestClient, reads: list[str], headers: dict[str, str]) -> list[str]:
    problems = []
    for read in reads:
        response = client.get(read, headers=headers, follow_redirects=False)
        if response.status_code >= 500:
            problems.append(f"later GET {read} answered {response.status_code}")
        elif read.startswith("/c/") and _SCRIPT_URL.search(response.text):
            problems.append(f"later GET {read} links to a script URL")
    return problems
