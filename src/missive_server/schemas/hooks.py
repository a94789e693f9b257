"""Hook (webhook subscription) request bodies and wire objects (spec 2.15).

Missive answers ``POST /v1/hooks`` with ``{"hooks": {"id"}}``; we add the hook's settings and
the signing ``secret`` (shown only there), and ``GET``/``PATCH`` render the same object without
the secret (docs/compatibility.md, "Hooks").
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)
from pydantic.json_schema import SkipJsonSchema

from missive_server.db.models import Hook
from missive_server.db.models.hooks import EXTENSION_HOOK_TYPES, HOOK_TYPES, OUTGOING_HOOK_TYPES
from missive_server.schemas.base import RequestModel, WireModel
from missive_server.schemas.fields import at_most, bounded_text, invalid, reject_null

ALL_HOOK_TYPES = HOOK_TYPES + EXTENSION_HOOK_TYPES
#: Events that carry a message or a comment, whose content the ``content_*`` filters test.
CONTENT_TYPES = (*HOOK_TYPES, *OUTGOING_HOOK_TYPES)
#: Which hook types each filter applies to (spec 2.15.1); event matching reads the same table.
FILTER_TYPES: dict[str, tuple[str, ...]] = {
    "content_contains": CONTENT_TYPES,
    "content_starts_with": CONTENT_TYPES,
    "content_ends_with": CONTENT_TYPES,
    "is_task": ("new_comment",),
    "author": ("new_comment",),
    "mention": ("new_comment",),
    "from_eq": ("incoming_email",),
    "subject_contains": ("incoming_email",),
}
FILTER_MAX = 1000
#: Plain secrets are HMAC keys as typed: long enough to resist guessing, short enough to store.
SECRET_MIN, SECRET_MAX = 16, 255
#: Standard Webhooks' ``whsec_<base64>`` keys decode to 24-64 random bytes.
WHSEC_PREFIX, WHSEC_MIN_BYTES, WHSEC_MAX_BYTES = "whsec_", 24, 64


def _hook_type(value: str) -> str:
    if value not in ALL_HOOK_TYPES:
        raise invalid("must be one of " + ", ".join(ALL_HOOK_TYPES))
    return value


def _blank_is_absent(value: Any) -> Any:
    """Form-driven clients (Zapier, n8n) send ``""`` for fields left empty."""
    return None if isinstance(value, str) and not value.strip() else value


def _secret(value: str) -> str:
    if not SECRET_MIN <= len(value) <= SECRET_MAX:
        raise invalid(f"must be {SECRET_MIN} to {SECRET_MAX} characters")
    if not value.isprintable() or value != value.strip():
        raise invalid("must not contain control characters or surrounding spaces")
    if value.startswith(WHSEC_PREFIX):
        try:
            key = base64.b64decode(value.removeprefix(WHSEC_PREFIX), validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if not WHSEC_MIN_BYTES <= len(key) <= WHSEC_MAX_BYTES:
            raise invalid(
                f"starting with '{WHSEC_PREFIX}' must continue with the base64 of "
                f"{WHSEC_MIN_BYTES} to {WHSEC_MAX_BYTES} bytes (Standard Webhooks)"
            )
    return value


def _address(value: str) -> str:
    value = value.strip().lower()
    local, at, domain = value.rpartition("@")
    if not at or not local or "." not in domain or any(c.isspace() for c in value):
        raise invalid("must be an email address")
    return value


HookType = Annotated[
    str,
    AfterValidator(_hook_type),
    WithJsonSchema({"type": "string", "enum": list(ALL_HOOK_TYPES)}),
]
Blank = BeforeValidator(_blank_is_absent)
#: Not stripped: ``content_starts_with: "Re: "`` means what it says.
FilterText = Annotated[Annotated[str, at_most(FILTER_MAX)] | None, Blank]
Id = Annotated[Annotated[str, AfterValidator(lambda v: v.strip().lower())] | None, Blank]


class HookIn(RequestModel):
    # ``type`` first: the filters' validators read it from ``info.data``.
    type: HookType
    url: Annotated[str, AfterValidator(lambda v: v.strip())]
    organization: Id = None
    content_contains: FilterText = None
    content_starts_with: FilterText = None
    content_ends_with: FilterText = None
    is_task: bool | None = None
    author: Id = None
    mention: Id = None
    from_eq: Annotated[Annotated[str, AfterValidator(_address)] | None, Blank] = None
    subject_contains: FilterText = None
    #: Extensions: the signing secret (generated when absent) and the rule's name.
    secret: Annotated[Annotated[str, AfterValidator(_secret)] | None, Blank] = None
    description: Annotated[Annotated[str, bounded_text(255)] | None, Blank] = None

    @field_validator(*FILTER_TYPES, mode="after")
    @classmethod
    def _applies(cls, value: Any, info: ValidationInfo) -> Any:
        hook_type = info.data.get("type")
        types = FILTER_TYPES[str(info.field_name)]
        # ``is_task: false`` is the default, not a filter.
        if value not in (None, False) and hook_type is not None and hook_type not in types:
            raise invalid(f"applies only to hooks of type {', '.join(types)}")
        return value


class HookCreateBody(RequestModel):
    hooks: HookIn


def _cannot_change(_value: Any) -> Any:
    raise invalid("cannot be changed; delete the hook and create a new one")


class HookPatch(RequestModel):
    """Only ``enabled``: re-enabling an auto-disabled hook, or pausing one."""

    enabled: bool
    type: SkipJsonSchema[Any] = None
    url: SkipJsonSchema[Any] = None
    organization: SkipJsonSchema[Any] = None
    secret: SkipJsonSchema[Any] = None
    description: SkipJsonSchema[Any] = None

    _not_null = field_validator("enabled", mode="before")(reject_null)
    _fixed = field_validator("type", "url", "organization", "secret", "description", mode="before")(
        _cannot_change
    )


class HookUpdateBody(RequestModel):
    hooks: HookPatch


class HookOut(WireModel):
    id: str
    type: str
    url: str
    description: str
    organization: str | None
    user: str
    content_contains: str | None
    content_starts_with: str | None
    content_ends_with: str | None
    is_task: bool
    author: str | None
    mention: str | None
    from_eq: str | None
    subject_contains: str | None
    enabled: bool
    consecutive_failures: int
    disabled_at: int | None
    created_at: int


class HookCreatedOut(HookOut):
    secret: str


class HookCreatedEnvelope(WireModel):
    hooks: HookCreatedOut


class HookEnvelope(WireModel):
    hooks: HookOut


class HooksEnvelope(WireModel):
    hooks: list[HookOut]


def render_hook(hook: Hook) -> dict[str, Any]:
    """Every setting but the secret, which leaves only in the create response."""
    return {
        "id": hook.id,
        "type": hook.type,
        "url": hook.url,
        "description": hook.description,
        "organization": hook.organization_id,
        "user": hook.user_id,
        "content_contains": hook.content_contains,
        "content_starts_with": hook.content_starts_with,
        "content_ends_with": hook.content_ends_with,
        "is_task": hook.is_task,
        "author": hook.author_id,
        "mention": hook.mention_id,
        "from_eq": hook.from_eq,
        "subject_contains": hook.subject_contains,
        "enabled": hook.enabled,
        "consecutive_failures": hook.consecutive_failures,
        "disabled_at": hook.disabled_at,
        "created_at": hook.created_at,
    }


def render_created_hook(hook: Hook) -> dict[str, Any]:
    return {**render_hook(hook), "secret": hook.secret}
