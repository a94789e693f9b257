"""Hostile-input checks every API request passes before its route parses anything (issue 16).

One place for the whole API rather than a rule per field, so a field added tomorrow is covered:
- JSON strings (values and keys) must not hold NUL (PostgreSQL ``text`` cannot store it; we
  refuse it on SQLite too so both backends accept the same requests) nor a lone UTF-16
  surrogate (not encodable as UTF-8, so no database can store it);
- JSON integers must fit the signed 64-bit columns every backend stores them in, and numbers
  must be finite (``1e400`` parses as infinity);
- query parameters a route declares as integers must fit 64 bits too, like ``until`` always did.
What still slips past (a string a model coerces to a huge integer) is caught at the database by
``routing.UnitOfWorkRoute`` and answered 400 as well.
"""

from __future__ import annotations

import json
import math
import re
import types
from typing import Any, Union, get_args, get_origin

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.requests import Request

from missive_server.errors import BadRequest

MIN_INTEGER, MAX_INTEGER = -(2**63), 2**63 - 1
#: NUL, or any UTF-16 surrogate: a valid pair is decoded by ``json`` into one code point, so a
#: surrogate left in a Python string is always a lone one.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
#: What pydantic accepts as an integer in a query string (signs, blanks, ``_`` separators).
_INTEGER_TEXT = re.compile(r"\s*[+-]?\d[\d_]*\s*")
_MAX_DIGITS = 19


def int_query_names(route: APIRoute) -> tuple[str, ...]:
    """The query parameters (of the route and its dependencies) declared as integers."""
    names: list[str] = []
    pending: list[Dependant] = [route.dependant]
    while pending:
        dependant = pending.pop()
        names += (p.alias for p in dependant.query_params if _is_int(p.field_info.annotation))
        pending += dependant.dependencies
    return tuple(dict.fromkeys(names))


def _is_int(annotation: Any) -> bool:
    if annotation is int:
        return True
    if get_origin(annotation) in (Union, types.UnionType):
        return any(_is_int(arg) for arg in get_args(annotation))
    return False


def check_query(request: Request, int_names: tuple[str, ...]) -> None:
    params = request.query_params
    for name in int_names:
        for value in params.getlist(name):
            if _INTEGER_TEXT.fullmatch(value) and not _fits(value):
                raise BadRequest(f"'{name}' is out of range")


def _fits(text: str) -> bool:
    digits = text.strip().lstrip("+-").replace("_", "").lstrip("0")
    if len(digits) > _MAX_DIGITS:
        return False
    return MIN_INTEGER <= int(text.replace("_", "")) <= MAX_INTEGER


async def check_json_body(request: Request) -> None:
    """Parse the JSON body once, check it, and leave it where FastAPI reads it from."""
    if request.method not in ("POST", "PATCH", "PUT"):
        return
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        return
    body = await request.body()
    if not body:
        return
    try:
        data = json.loads(body)
    except json.JSONDecodeError:
        return  # FastAPI answers it: "Request body is not valid JSON"
    except RecursionError:
        raise BadRequest("Request body is nested too deeply") from None
    except ValueError:  # an integer of more than 4300 digits (int_max_str_digits)
        raise BadRequest("Request body holds a number that is out of range") from None
    check_value(data)
    # Starlette caches the parsed body here; FastAPI's ``request.json()`` then reuses it.
    request._json = data


def check_value(data: Any) -> None:
    """Walks the parsed body without recursion (depth is the client's choice)."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            _check_text(path, value)
        elif isinstance(value, bool):
            continue
        elif isinstance(value, int):
            if not MIN_INTEGER <= value <= MAX_INTEGER:
                raise BadRequest(f"{_name(path)} is out of range")
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise BadRequest(f"{_name(path)} is out of range")
        elif isinstance(value, dict):
            for key, item in value.items():
                child = f"{path}.{key}" if path else key
                _check_text(path, key, key=True)
                stack.append((child, item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", item) for i, item in enumerate(value))


def _check_text(path: str, value: str, *, key: bool = False) -> None:
    found = _UNSTORABLE.search(value)
    if found is None:
        return
    what = "NUL characters" if found.group() == "\x00" else "unpaired UTF-16 surrogates"
    where = f"Attribute names in {_name(path)}" if key else _name(path)
    raise BadRequest(f"{where} must not contain {what}")


def _name(path: str) -> str:
    return f"'{path}'" if path else "Request body"
