"""Search terms: the normalised words a piece of text is found by (pure functions).

In ``db`` rather than ``services`` so the migration that backfills ``conversation_search_terms``
(0015) computes exactly the terms the services write; ``services.text``,
``services.contacts.contact_search`` and ``services.conversations.search_terms`` import them.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import String

#: Longest stored search term; longer words are cut (queries are cut the same way).
TERM_MAX = 64
#: Longest ``sort_name`` of a contact (``contacts`` and ``contact_search_terms``).
SORT_NAME_MAX = 512


def binary_string(length: int) -> String:
    """Text compared by code point on both backends: collation "C" on PostgreSQL matches
    SQLite's BINARY, so byte order, prefix ranges and ordering agree."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


_WORD = re.compile(r"\w+")
_BLOCK_TAGS = re.compile(r"<\s*(br|/p|/div|/li|/tr|/h[1-6])\b[^>]*>", re.IGNORECASE)
_TAGS = re.compile(r"<[^>]+>")
_STYLE_SCRIPT = re.compile(r"<(style|script)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_SPACES = re.compile(r"\s+")


def html_to_text(body: str | None) -> str:
    if not body:
        return ""
    text = _STYLE_SCRIPT.sub(" ", body)
    text = _BLOCK_TAGS.sub(" ", text)
    text = _TAGS.sub("", text)
    return _SPACES.sub(" ", html.unescape(text)).strip()


def normalise(text: str) -> str:
    """Lowercase without accents: "Québec" and "quebec" are one term."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def sort_name(first_name: str | None, last_name: str | None) -> str:
    """A contact's key for ``order=last_name``: normalised last name, then first name."""
    return f"{normalise(last_name or '')}\x1f{normalise(first_name or '')}"[:SORT_NAME_MAX]


def words(text: str | None) -> set[str]:
    return set(_WORD.findall(normalise(text))) if text else set()


def email_terms(address: str) -> set[str]:
    """The whole address, its local part, domain and domain labels, and the local part's words."""
    address = normalise(address.strip())
    local, _, domain = address.rpartition("@")
    terms = {address, local, domain, *domain.split("."), *words(local)}
    return {t for t in terms if t}


def party_terms(parties: Iterable[Mapping[str, Any] | None]) -> set[str]:
    """Names and addresses of a message's From/To/Cc/Bcc/Reply-To (``{"name", "address"}``)."""
    terms: set[str] = set()
    for party in parties:
        if not party:
            continue
        terms |= words(str(party.get("name") or ""))
        address = str(party.get("address") or "")
        # Every word of the address too: "quill-press" is found by "press".
        terms |= words(address) | (email_terms(address) if "@" in address else set())
    return terms


def message_terms(
    subject: str | None, body: str | None, parties: Iterable[Mapping[str, Any] | None]
) -> set[str]:
    """A delivered message: its subject, its body as text (HTML stripped) and its parties."""
    return cut(words(subject) | words(html_to_text(body)) | party_terms(parties))


def text_terms(*texts: str | None) -> set[str]:
    """A subject, a comment, a post's text, markdown and notification."""
    return cut(set().union(*(words(t) for t in texts)))


def cut(terms: Iterable[str]) -> set[str]:
    return {t[:TERM_MAX] for t in terms if t}
