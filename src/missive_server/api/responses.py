"""Rendering wire dicts with orjson (fast, and never FastAPI's slower response-model path)."""

from __future__ import annotations

import json
from typing import Any

import orjson
from starlette.responses import Response


def wire(data: Any, status_code: int = 200) -> Response:
    try:
        body = orjson.dumps(data)
    except orjson.JSONEncodeError:
        # A stored value orjson refuses (an integer past 64 bits or a lone surrogate in a row
        # written before the input checks existed): still answer, never 500 on a read.
        body = json.dumps(data, default=str).encode()
    return Response(body, status_code=status_code, media_type="application/json")


def envelope(key: str, value: Any, status_code: int = 200) -> Response:
    """``{"<resource>": value}``: Missive wraps every body in its resource's name (spec 1.3)."""
    return wire({key: value}, status_code)
