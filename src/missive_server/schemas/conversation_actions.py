"""The "conversation action" parameters shared by drafts, messages, posts and
``PATCH /v1/conversations`` (spec 1B), and the bodies of PATCH and merge (spec 2.5.3, 2.5.8).

``ConversationActions`` is the framework-free form the services take; the pydantic models
below only parse the wire and convert with ``to_actions()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import AfterValidator, field_validator

from missive_server.schemas.base import RequestModel
from missive_server.schemas.fields import invalid, is_hex_color, one_or_many

#: Named colors allowed for conversations and posts (spec 1.9).
NAMED_COLORS = ("good", "warning", "danger")
COLOR_RULE = "must be a HEX color (#RGB or #RRGGBB) or one of good, warning, danger"


def is_conversation_color(value: str) -> bool:
    return value in NAMED_COLORS or is_hex_color(value)


def _conversation_color(value: str) -> str:
    if not is_conversation_color(value):
        raise invalid(COLOR_RULE)
    return value


ConversationColor = Annotated[str, AfterValidator(_conversation_color)]


@dataclass(slots=True)
class ConversationActions:
    """What to do to a conversation (spec 1B). Lists empty and flags false mean "nothing".

    ``subject`` and ``color``: ``None`` leaves them alone, ``""`` clears them.
    """

    organization: str | None = None
    team: str | None = None
    force_team: bool = False
    add_users: list[str] = field(default_factory=list)
    add_assignees: list[str] = field(default_factory=list)
    remove_assignees: list[str] = field(default_factory=list)
    add_shared_labels: list[str] = field(default_factory=list)
    remove_shared_labels: list[str] = field(default_factory=list)
    add_to_inbox: bool = False
    add_to_team_inbox: bool = False
    close: bool = False
    reopen: bool = False
    subject: str | None = None
    color: str | None = None


class ConversationActionsIn(RequestModel):
    """Spec 1B as drafts, messages and posts spell it (``conversation_subject``/``_color``).

    ``null`` is accepted everywhere and means "not given", as real clients send nulls.
    """

    organization: str | None = None
    team: str | None = None
    force_team: bool | None = None
    add_users: list[str] | None = None
    add_assignees: list[str] | None = None
    remove_assignees: list[str] | None = None
    add_shared_labels: list[str] | None = None
    remove_shared_labels: list[str] | None = None
    add_to_inbox: bool | None = None
    add_to_team_inbox: bool | None = None
    close: bool | None = None
    reopen: bool | None = None
    conversation_subject: str | None = None
    conversation_color: ConversationColor | None = None

    def to_actions(self) -> ConversationActions:
        return ConversationActions(
            organization=self.organization,
            team=self.team,
            force_team=bool(self.force_team),
            add_users=list(self.add_users or ()),
            add_assignees=list(self.add_assignees or ()),
            remove_assignees=list(self.remove_assignees or ()),
            add_shared_labels=list(self.add_shared_labels or ()),
            remove_shared_labels=list(self.remove_shared_labels or ()),
            add_to_inbox=bool(self.add_to_inbox),
            add_to_team_inbox=bool(self.add_to_team_inbox),
            close=bool(self.close),
            reopen=bool(self.reopen),
            subject=self.conversation_subject,
            color=self.conversation_color,
        )


class ConversationLocatorIn(RequestModel):
    """Which conversation a draft, message or post goes to (spec 1B): an id or references."""

    conversation: str | None = None
    references: list[str] | None = None


class ConversationPatchIn(ConversationActionsIn):
    """One item of ``PATCH /v1/conversations/:ids`` (spec 2.5.3).

    ``subject``/``color`` are PATCH's names; ``conversation_color`` (sent by one client) and
    ``conversation_subject`` are accepted as aliases. An explicit ``null`` clears the value.
    """

    id: str | None = None
    subject: str | None = None
    color: ConversationColor | None = None

    def to_actions(self) -> ConversationActions:
        actions = super().to_actions()
        actions.subject = self._cleared_or("subject", "conversation_subject")
        actions.color = self._cleared_or("color", "conversation_color")
        return actions

    def _cleared_or(self, name: str, alias: str) -> str | None:
        for key in (name, alias):
            if key in self.model_fields_set:
                value: str | None = getattr(self, key)
                return "" if value is None else value
        return None


class ConversationsPatchBody(RequestModel):
    conversations: list[ConversationPatchIn]

    @field_validator("conversations", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return one_or_many(value)


class MergeIn(RequestModel):
    """``POST /v1/conversations/:id/merge`` — not enveloped (spec 2.5.8)."""

    target: str
    subject: str | None = None
