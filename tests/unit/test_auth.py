"""Bearer tokens (spec 1.2) and the kernel helpers for ids (spec 1.8)."""

from __future__ import annotations

import hashlib
import hmac
import uuid

import pytest

from missive_server.auth import (
    TOKEN_PREFIX,
    Principal,
    bearer_token,
    hash_token,
    hashes_match,
    new_token,
)
from missive_server.ids import is_id, new_id, split_ids

TOKEN = "missive_pat-26pApm_QTmyhLLbAFwoFGmJ6x-6fikpQ"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (f"Bearer {TOKEN}", TOKEN),
        (f"bearer {TOKEN}", TOKEN),
        (f"BEARER {TOKEN}", TOKEN),
        (f"Bearer   {TOKEN}  ", TOKEN),
        ("Bearer 140a62b5-57ce-4e63-a88e-38890f8079a9", "140a62b5-57ce-4e63-a88e-38890f8079a9"),
        (None, None),
        ("", None),
        ("Bearer", None),
        ("Bearer ", None),
        ("Bearer    ", None),
        (TOKEN, None),
        (f"Basic {TOKEN}", None),
        (f"Token {TOKEN}", None),
        (f"Bearer{TOKEN}", None),
    ],
)
def test_bearer_token_parsing(header: str | None, expected: str | None) -> None:
    assert bearer_token(header) == expected


def test_hash_token_is_sha256_hex() -> None:
    assert hash_token("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert hash_token(TOKEN) == hashlib.sha256(TOKEN.encode()).hexdigest()
    assert hash_token("é") == hashlib.sha256("é".encode()).hexdigest()


def test_hashes_match_compares_the_presented_tokens_hash() -> None:
    stored = hash_token(TOKEN)

    assert hashes_match(stored, TOKEN)
    assert not hashes_match(stored, TOKEN + "x")
    assert not hashes_match(stored, "")
    assert not hashes_match(stored.upper(), TOKEN)


def test_hashes_match_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str]] = []
    original = hmac.compare_digest

    def compare_digest(a: str, b: str) -> bool:
        calls.append((a, b))
        return original(a, b)

    monkeypatch.setattr(hmac, "compare_digest", compare_digest)

    assert hashes_match(hash_token(TOKEN), TOKEN)
    assert calls == [(hash_token(TOKEN), hash_token(TOKEN))]


def test_new_tokens_look_like_missives_and_are_unique() -> None:
    tokens = {new_token() for _ in range(100)}

    assert len(tokens) == 100
    for token in tokens:
        assert token.startswith(TOKEN_PREFIX)
        assert len(token) > len(TOKEN_PREFIX) + 40
        assert bearer_token(f"Bearer {token}") == token


def test_principal_roles() -> None:
    principal = Principal(
        "u", "Alice", "alice@acme.test", roles={"o1": "owner", "o2": "admin", "o3": "user"}
    )

    assert principal.organization_ids == {"o1", "o2", "o3"}
    assert [principal.is_admin(o) for o in ("o1", "o2", "o3", "o4", None)] == [
        True,
        True,
        False,
        False,
        False,
    ]
    assert [principal.is_member(o) for o in ("o3", "o4", None)] == [True, False, False]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a", ["a"]),
        ("a,b,c", ["a", "b", "c"]),
        ("c,a,b", ["c", "a", "b"]),
        ("a,b,a", ["a", "b"]),
        (" a , b ", ["a", "b"]),
        ("a,,b,", ["a", "b"]),
        ("A,a", ["a"]),
        ("", []),
        (",", []),
    ],
)
def test_split_ids_keeps_order_and_drops_blanks_and_repeats(raw: str, expected: list[str]) -> None:
    assert split_ids(raw) == expected


def test_split_ids_lowercases_uuids() -> None:
    first, second = new_id(), new_id()

    assert split_ids(f"{first.upper()},{second}") == [first, second]


def test_ids_are_lowercase_uuid4() -> None:
    value = new_id()

    assert is_id(value)
    assert uuid.UUID(value).version == 4
    assert value == value.lower()
    assert not is_id(value.upper())
    assert not is_id("not-an-id")
    assert not is_id(value + "0")
