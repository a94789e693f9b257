"""Plain-text helpers for previews and search."""

from __future__ import annotations

from missive_server.db.search_text import html_to_text as html_to_text

PREVIEW_LENGTH = 200


def preview(body: str | None) -> str | None:
    text = html_to_text(body)
    return text[:PREVIEW_LENGTH] if text else None
