"""Rule webhook payloads (spec 3.3): ``rule``, the REST ``conversation`` and one event object.

- ``message`` / ``latest_message``: the REST list form of the message without ``draft`` (the
  examples of spec 3.3 have none; a webhook never carries a draft) and, like every webhook
  message, without ``body`` (receivers fetch it with ``GET /v1/messages/:id``).
- ``comment``: the REST comment plus ``meta: []`` as in Missive's fixture, with mentions in the
  webhook shape ``{"user_id", "offset", "length"}`` (spec 3.3 notes it differs from REST's
  ``{"id", "index", "length"}``), and its task with ``completed_at`` as webhook tasks have.
"""

from __future__ import annotations

from typing import Any

from missive_server.db.models import Hook
from missive_server.schemas.comments import CommentView, render_comment
from missive_server.schemas.messages import MessageView, render_message


def render_hook_payload(
    hook: Hook,
    event: str,
    conversation: dict[str, Any],
    event_object: tuple[str, dict[str, Any]] | None,
) -> dict[str, Any]:
    """``event_object`` is ``(key, object)``: ``message``, ``comment`` or ``latest_message``."""
    payload: dict[str, Any] = {
        "rule": {"id": hook.id, "description": hook.description, "type": event},
        "conversation": conversation,
    }
    if event_object is not None:
        key, value = event_object
        payload[key] = value
    return payload


def render_hook_message(view: MessageView, *, public_url: str) -> dict[str, Any]:
    wire = render_message(view, public_url=public_url)
    del wire["draft"]
    return wire


def render_hook_comment(view: CommentView, *, public_url: str) -> dict[str, Any]:
    wire = render_comment(view, public_url=public_url)
    comment: dict[str, Any] = {
        "id": wire["id"],
        "body": wire["body"],
        "mentions": [_mention(m) for m in wire["mentions"]],
        "created_at": wire["created_at"],
        "meta": [],
        "attachment": wire["attachment"],
        "task": wire["task"],
        "author": wire["author"],
    }
    if comment["task"] is not None:
        comment["task"] = {**comment["task"], "completed_at": comment["task"]["closed_at"]}
    return comment


def _mention(mention: dict[str, Any]) -> dict[str, Any]:
    return {
        "user_id": mention.get("id"),
        "offset": mention.get("index"),
        "length": mention.get("length"),
    }
