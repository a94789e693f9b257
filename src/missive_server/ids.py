"""Identifiers: Missive ids are lowercase UUID4 strings (spec 1.8)."""

from __future__ import annotations

import re
import uuid

_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def new_id() -> str:
    return str(uuid.uuid4())


def is_id(value: str) -> bool:
    return bool(_UUID_RE.match(value))


def split_ids(raw: str) -> list[str]:
    """Parse the comma-separated ``:ids`` path segment of batch endpoints, keeping order."""
    seen: dict[str, None] = {}
    for part in raw.split(","):
        part = part.strip().lower()
        if part:
            seen.setdefault(part, None)
    return list(seen)
