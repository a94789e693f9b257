"""Post wire objects (spec 1A, Post) and the body of ``POST /v1/posts`` (spec 2.10.1)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, model_validator

from missive_server.db.models import Post, User
from missive_server.schemas.base import RequestModel, WireModel
from missive_server.schemas.conversation_actions import (
    ConversationActionsIn,
    ConversationColor,
    ConversationLocatorIn,
)
from missive_server.schemas.fields import Timestamp, invalid


@dataclass(slots=True)
class PostView:
    post: Post
    #: The token owner who created it: the default ``username`` / ``username_icon`` (spec 2.10.1).
    author: User | None = None


class NotificationOut(WireModel):
    title: str | None = None
    body: str | None = None


class PostOut(WireModel):
    id: str
    created_at: int
    username: str | None
    username_icon: str | None
    notification: NotificationOut | None
    #: Attachment blocks as posted (color, author_*, title, text, fields, footer, timestamp ...).
    attachments: list[dict[str, Any]]
    text: str | None = None
    markdown: str | None = None


class PostsEnvelope(WireModel):
    posts: list[PostOut]


def render_post(view: PostView) -> dict[str, Any]:
    p, author = view.post, view.author
    wire: dict[str, Any] = {
        "id": p.id,
        "created_at": p.created_at,
        "username": p.username or (author.name if author else None),
        "username_icon": p.username_icon or (author.avatar_url if author else None),
        "notification": p.notification,
        "attachments": p.attachments,
    }
    # Not in the doc example; emitting them when set is harmless (spec 1A, Post).
    if p.text is not None:
        wire["text"] = p.text
    if p.markdown is not None:
        wire["markdown"] = p.markdown
    return wire


# --- POST /v1/posts (spec 2.10.1) -----------------------------------------------------------

#: Missive truncates over-long post strings silently ("variable maximum length", spec 2.10.1);
#: 8000 is the documented maximum of ``text``/``markdown``, the others are our choice and fit
#: the database columns.
TEXT_MAX = 8000
PARAGRAPH_MAX = 2000
LINE_MAX = 255
URL_MAX = 2048
CONTENT_RULE = "must have at least one of 'text', 'markdown' or 'attachments'"
NOTIFICATION_RULE = "must have a 'title' or a 'body'"


def _truncated(limit: int) -> AfterValidator:
    return AfterValidator(lambda value: value[:limit])


def _number_as_text(value: Any) -> Any:
    """Field values are often numbers (counts, prices); they are shown as text anyway."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


Text = Annotated[str, _truncated(TEXT_MAX)]
Paragraph = Annotated[str, _truncated(PARAGRAPH_MAX)]
Line = Annotated[str, _truncated(LINE_MAX)]
Url = Annotated[str, _truncated(URL_MAX)]
FieldValue = Annotated[str, BeforeValidator(_number_as_text), _truncated(PARAGRAPH_MAX)]


class NotificationIn(RequestModel):
    """Title, body or both. Missive's own webhook relay sends a title alone (events it has no
    summary for) and a body alone (posts into a conversation by id, which have no subject);
    both are accepted in production, so only a notification with neither is refused."""

    title: Line | None = None
    body: Paragraph | None = None

    @model_validator(mode="after")
    def _has_text(self) -> NotificationIn:
        if not (self.title or self.body):
            raise invalid(NOTIFICATION_RULE)
        return self


class PostFieldIn(RequestModel):
    """One ``fields`` item of an attachment block; ``short: true`` puts two on a row."""

    title: Line | None = None
    value: FieldValue | None = None
    short: bool | None = None


class PostAttachmentIn(RequestModel):
    """An attachment block (spec 2.10.1): every attribute optional."""

    color: ConversationColor | None = None
    pretext: Text | None = None
    author_name: Line | None = None
    author_link: Url | None = None
    #: A URL or ``avatar:<email>``.
    author_icon: Url | None = None
    title: Line | None = None
    title_link: Url | None = None
    image_url: Url | None = None
    text: Text | None = None
    markdown: Text | None = None
    timestamp: Timestamp | None = None
    footer: Line | None = None
    footer_icon: Url | None = None
    fields: list[PostFieldIn] | None = None

    def to_block(self) -> dict[str, Any]:
        """The block as stored and listed: only the attributes that were given."""
        return self.model_dump(exclude_none=True)


@dataclass(slots=True)
class PostContent:
    """What a post shows; the framework-free input of ``services.posts.create_post``."""

    notification: dict[str, Any]
    text: str | None = None
    markdown: str | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)
    username: str | None = None
    username_icon: str | None = None
    conversation_icon: str | None = None


class PostIn(ConversationActionsIn, ConversationLocatorIn):
    """The ``posts`` object: content, where it goes (spec 1B) and what it does there.

    ``reopen`` keeps its post meaning here (``true`` keeps a closed conversation closed);
    ``services.posts.post_actions`` translates it.
    """

    notification: NotificationIn
    text: Text | None = None
    markdown: Text | None = None
    attachments: list[PostAttachmentIn] | None = None
    username: Line | None = None
    username_icon: Url | None = None
    conversation_icon: Url | None = None
    conversation_subject: Paragraph | None = None
    #: ``conversation_subject`` renames an existing conversation only when this is true; a new
    #: conversation always takes it. The relay sends ``false`` with comments and ``true`` with
    #: issue and pull-request events, so comments never rename the thread.
    update_existing_conversation_subject: bool | None = None

    @model_validator(mode="after")
    def _has_content(self) -> PostIn:
        if not ((self.text or "").strip() or (self.markdown or "").strip() or self.attachments):
            raise invalid(CONTENT_RULE)
        return self

    def to_content(self) -> PostContent:
        return PostContent(
            notification=self.notification.model_dump(),
            text=self.text,
            markdown=self.markdown,
            attachments=[block.to_block() for block in self.attachments or ()],
            username=self.username,
            username_icon=self.username_icon,
            conversation_icon=self.conversation_icon,
        )


class PostsCreateBody(RequestModel):
    """``{"posts": {...}}``; an unwrapped post object is accepted too (real clients send both),
    and error paths still start with ``posts``."""

    posts: PostIn

    @model_validator(mode="before")
    @classmethod
    def _wrap(cls, value: Any) -> Any:
        if isinstance(value, dict) and "posts" not in value:
            return {"posts": value}
        return value


class PostRef(WireModel):
    id: str
    conversation: str


class PostCreatedEnvelope(WireModel):
    posts: PostRef


class DeletedOut(WireModel):
    """``DELETE`` answers ``{}`` (spec 1.4 recommendation)."""
