"""Plain-text helpers for previews and search."""

from __future__ import annotations

import html
import re

_BLOCK_TAGS = re.compile(r"<\s*(br|/p|/div|/li|/tr|/h[1-6])\b[^>]*>", re.IGNORECASE)
_TAGS = re.compile(r"<[^>]+>")
_STYLE_SCRIPT = re.compile(r"<(style|script)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_SPACES = re.compile(r"\s+")

PREVIEW_LENGTH = 200


def html_to_text(body: str | None) -> str:
    if not body:
        return ""
    text = _STYLE_SCRIPT.sub(" ", body)
    text = _BLOCK_TAGS.sub(" ", text)
    text = _TAGS.sub("", text)
    return _SPACES.sub(" ", html.unescape(text)).strip()


def preview(body: str | None) -> str | None:
    text = html_to_text(body)
    return text[:PREVIEW_LENGTH] if text else None
