"""Request-field validators shared by several bodies: one place for each rule and its message.

Errors read ``'<field path>' <message>`` once ``api/errors.validation_message`` names the field.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Strict, WithJsonSchema
from pydantic_core import PydanticCustomError

from missive_server.schemas.base import RequestModel

#: ``attachments.filename`` / ``.extension`` column sizes.
FILENAME_MAX = 255
EXTENSION_MAX = 32
#: 9999-12-31T23:59:59Z: anything later is a typo (milliseconds, usually).
TIMESTAMP_MAX = 253_402_300_799
#: Files per draft, message or response (spec 2.6.1).
MAX_ATTACHMENTS = 25
_HEX_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")


def invalid(message: str) -> PydanticCustomError:
    """A validation error whose text follows the field name: ``'<field>' <message>``."""
    return PydanticCustomError("invalid", message)


def is_hex_color(value: str) -> bool:
    return _HEX_COLOR.match(value) is not None


def _hex_color(value: str) -> str:
    if not is_hex_color(value):
        raise invalid("must be a HEX color (#RGB or #RRGGBB)")
    return value


def bounded_text(limit: int) -> AfterValidator:
    """Stripped, not empty, at most ``limit`` characters (names, titles)."""

    def check(value: str) -> str:
        value = value.strip()
        if not value:
            raise invalid("must not be empty")
        if len(value) > limit:
            raise invalid(f"must be at most {limit} characters")
        return value

    return AfterValidator(check)


def at_most(limit: int) -> AfterValidator:
    """A length limit without the not-empty rule of ``Name``-like fields."""

    def check(value: str) -> str:
        if len(value) > limit:
            raise invalid(f"must be at most {limit} characters")
        return value

    return AfterValidator(check)


def at_most_files(value: Any) -> Any:
    """A ``mode="before"`` validator for ``attachments``: runs before decoding anything, so 26
    files are refused however valid each one is."""
    if isinstance(value, list) and len(value) > MAX_ATTACHMENTS:
        raise invalid(f"must hold at most {MAX_ATTACHMENTS} files")
    return value


def reject_null(value: Any) -> Any:
    """For partial bodies: omitting a field keeps it, but ``null`` is not a value it can take."""
    if value is None:
        raise invalid("must not be null")
    return value


def one_or_many(value: Any) -> Any:
    """Real clients send ``{"teams": {...}}`` where an array of one is documented (spec 1.3)."""
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list) and not value:
        raise invalid("must hold at least one object")
    return value


def _object_or_list(value: Any) -> Any:
    """An object where an array is documented is an array of one (spec 1.3); Live Chat's
    ``to_fields`` is even documented as one object (spec 2.6.1)."""
    return [value] if isinstance(value, dict) else value


def _base64(value: Any) -> Any:
    if not isinstance(value, str):
        raise invalid("must be a string")
    try:
        # Line-wrapped base64 (MIME style) is common; whitespace is not data.
        return base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        raise invalid("must be valid base64") from None


def _filename(value: str) -> str:
    name = value.strip()
    if not name:
        raise invalid("must not be empty")
    if len(name) > FILENAME_MAX:
        raise invalid(f"must be at most {FILENAME_MAX} characters")
    if "." in name and len(name.rsplit(".", 1)[1]) > EXTENSION_MAX:
        raise invalid(f"must have an extension of at most {EXTENSION_MAX} characters")
    return name


def _timestamp(value: int) -> int:
    if not 0 <= value <= TIMESTAMP_MAX:
        raise invalid("must be a Unix timestamp (seconds)")
    return value


HexColor = Annotated[str, AfterValidator(_hex_color)]
Name = Annotated[str, bounded_text(255)]
Emoji = Annotated[str, bounded_text(64)]
Base64 = Annotated[
    bytes,
    BeforeValidator(_base64),
    WithJsonSchema({"type": "string", "contentEncoding": "base64"}),
]
#: Strict: ``true`` or ``"1700000000"`` are not timestamps.
Timestamp = Annotated[int, Strict(), AfterValidator(_timestamp)]
ParticipantsIn = Annotated[list[dict[str, Any]], BeforeValidator(_object_or_list)]


class AttachmentIn(RequestModel):
    """A file sent inline as ``{"base64_data", "filename"}`` (drafts, messages, responses)."""

    base64_data: Base64
    filename: Annotated[str, AfterValidator(_filename)]
