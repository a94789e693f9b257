"""A hook's filters (spec 2.15.1) against one event (docs/compatibility.md, "Webhook events").

- Text filters (``content_*``, ``subject_contains``, ``from_eq``) are case-insensitive
  (Unicode case folding) and ignore surrounding whitespace; content is the plain text of the
  message body (HTML bodies reduced to text, as the preview is) or the comment's body.
- A filter whose field the event does not have (``is_task`` on a message, ``from_eq`` on a
  comment, content filters on a label change) does not match: the hook stays silent rather than
  firing for something it did not ask about.
- Hooks fire for the actor's own activity too (an ``author`` filter selects it explicitly).
"""

from __future__ import annotations

from dataclasses import dataclass

from missive_server.db.models import Comment, Hook, Message
from missive_server.services.text import html_to_text

#: Message types whose body is plain text (every other body is HTML).
PLAIN_TEXT_TYPES = frozenset({"custom_text", "sms", "whatsapp", "messenger", "instagram"})


@dataclass(frozen=True, slots=True)
class HookSubject:
    """What an event is about: a message, a comment, or neither (conversation changes)."""

    message: Message | None = None
    comment: Comment | None = None

    def content(self) -> str | None:
        if self.comment is not None:
            return " ".join(self.comment.body.split())
        if self.message is None:
            return None
        body = self.message.body or ""
        if self.message.type in PLAIN_TEXT_TYPES:
            return " ".join(body.split())
        return html_to_text(body)

    def sender(self) -> str | None:
        sender = self.message.from_field if self.message is not None else None
        if not sender:
            return None
        return str(sender.get("address") or sender.get("phone_number") or sender.get("id") or "")

    def mentioned(self) -> set[str]:
        if self.comment is None:
            return set()
        return {str(m.get("id")) for m in self.comment.mentions if isinstance(m, dict)}


def matches(hook: Hook, subject: HookSubject) -> bool:
    return _text_filters(hook, subject) and _comment_filters(hook, subject)


def _fold(value: str | None) -> str:
    return (value or "").strip().casefold()


def _text_filters(hook: Hook, subject: HookSubject) -> bool:
    content = subject.content()
    wanted = {
        "contains": _fold(hook.content_contains),
        "starts": _fold(hook.content_starts_with),
        "ends": _fold(hook.content_ends_with),
    }
    if any(wanted.values()):
        if content is None:
            return False
        text = _fold(content)
        if not (
            wanted["contains"] in text
            and text.startswith(wanted["starts"])
            and text.endswith(wanted["ends"])
        ):
            return False
    if hook.from_eq and _fold(subject.sender()) != _fold(hook.from_eq):
        return False
    if hook.subject_contains:
        title = subject.message.subject if subject.message is not None else None
        if title is None or _fold(hook.subject_contains) not in _fold(title):
            return False
    return True


def _comment_filters(hook: Hook, subject: HookSubject) -> bool:
    comment = subject.comment
    if hook.is_task and (comment is None or comment.task_id is None):
        return False
    if hook.author_id and (comment is None or comment.author_id != hook.author_id):
        return False
    return not (hook.mention_id and hook.mention_id not in subject.mentioned())
