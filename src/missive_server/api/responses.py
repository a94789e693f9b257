"""Rendering wire dicts with orjson (fast, and never FastAPI's slower response-model path)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


def wire(data: Any, status_code: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status_code, media_type="application/json")


def envelope(key: str, value: Any, status_code: int = 200) -> Response:
    """``{"<resource>": value}``: Missive wraps every body in its resource's name (spec 1.3)."""
    return wire({key: value}, status_code)
