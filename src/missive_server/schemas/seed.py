"""The declarative seed document taken by ``missive-server seed`` (and later ``/_emulator/seed``).

Entities refer to each other by name or email inside the document. Unknown fields are errors,
so a typo never silently seeds something else; ``describe_validation_error`` turns pydantic's
errors into one message per problem naming the entry (``teams[0] (Support): emoji: ...``).
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from missive_server.schemas.contacts import ContactFields
from missive_server.schemas.fields import Timestamp

Role = Literal["owner", "admin", "user"]
NonEmpty = Annotated[str, Field(min_length=1)]


class SeedModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OrganizationSeed(SeedModel):
    name: NonEmpty


class UserSeed(SeedModel):
    email: NonEmpty
    name: str | None = None
    avatar_url: str | None = None
    #: Organization name -> role.
    organizations: dict[str, Role] = Field(default_factory=dict)
    #: A fixed API token (stored once, idempotently); omitted: a new token when the user is created.
    token: Annotated[str, Field(min_length=8, pattern=r"^\S+$")] | None = None
    #: Web sign-in password (stored as an Argon2id hash; a later run with another one replaces it).
    password: Annotated[str, Field(min_length=8, max_length=1024)] | None = None

    @field_validator("email")
    @classmethod
    def _lowercase(cls, value: str) -> str:
        if "@" not in value:
            raise ValueError("must be an email address")
        return value.strip().lower()


class TeamSeed(SeedModel):
    name: NonEmpty
    organization: NonEmpty
    active_members: list[str] = Field(default_factory=list)
    observers: list[str] = Field(default_factory=list)
    emoji: str | None = None
    color: str | None = None


class _AccountBase(SeedModel):
    organization: str | None = None
    team: str | None = None
    #: Users the account is shared with (they may send from it).
    users: list[str] = Field(default_factory=list)


class EmailAccountSeed(_AccountBase):
    type: Literal["email"]
    address: NonEmpty
    name: str | None = None
    aliases: list[str] = Field(default_factory=list)


class PhoneAccountSeed(_AccountBase):
    type: Literal["sms", "whatsapp"]
    phone_number: NonEmpty
    name: str | None = None
    provider: Literal["twilio", "signalwire", "twilio_whatsapp", "whatsapp"] | None = None


class CustomAccountSeed(_AccountBase):
    type: Literal["custom"]
    name: NonEmpty
    webhook_url: str | None = None
    secret: str | None = None
    message_type: Literal["custom_text", "custom_html", "email"] = "custom_text"


AccountSeed = Annotated[
    EmailAccountSeed | PhoneAccountSeed | CustomAccountSeed, Field(discriminator="type")
]


class SharedLabelSeed(SeedModel):
    name: NonEmpty
    organization: NonEmpty
    #: The parent label's name (or ``Parent/Child`` path) in the same organization.
    parent: str | None = None
    color: str | None = None
    visibility: Literal["organization", "delegates"] = "organization"
    share_with_organization: bool = False
    share_with_team: str | None = None
    share_with_users: list[str] = Field(default_factory=list)


class ContactSeed(ContactFields):
    """A contact of a seeded book: the attributes of ``POST /v1/contacts`` (spec 2.2.1), checked
    by the same rules, plus ``deleted`` so an emulator can hold deleted contacts to sync."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    deleted: bool = False


class ContactBookSeed(SeedModel):
    """No organization: a personal book, which needs an ``owner``. An organization book's owner
    defaults to the organization's first owner (or admin)."""

    name: NonEmpty
    organization: str | None = None
    #: The owner's email.
    owner: str | None = None
    description: str | None = None
    share_with_organization: bool = False
    share_with_team: str | None = None
    share_with_users: list[str] = Field(default_factory=list)
    exclude_from_search: bool = False
    contacts: list[ContactSeed] = Field(default_factory=list)

    @model_validator(mode="after")
    def _personal_books_have_an_owner(self) -> ContactBookSeed:
        if self.organization is None and self.owner is None:
            raise ValueError("a personal book (no organization) needs an 'owner'")
        return self


class AddressSeed(SeedModel):
    address: str | None = None
    name: str | None = None
    phone_number: str | None = None


class AttachmentSeed(SeedModel):
    filename: NonEmpty
    base64_data: str

    @field_validator("base64_data")
    @classmethod
    def _decodes(cls, value: str) -> str:
        try:
            base64.b64decode(value, validate=True)
        except binascii.Error:
            raise ValueError("is not valid base64") from None
        return value


class MessageSeed(SeedModel):
    from_field: AddressSeed | None = None
    to_fields: list[AddressSeed] = Field(default_factory=list)
    cc_fields: list[AddressSeed] = Field(default_factory=list)
    bcc_fields: list[AddressSeed] = Field(default_factory=list)
    reply_to_fields: list[AddressSeed] = Field(default_factory=list)
    subject: str | None = None
    body: str | None = None
    #: Defaults to the account's kind: ``email``, ``sms``, ``whatsapp`` or the custom message type.
    type: str | None = None
    delivered_at: Timestamp | None = None
    email_message_id: str | None = None
    in_reply_to: list[str] = Field(default_factory=list)
    references: list[str] = Field(default_factory=list)
    external_id: str | None = None
    #: Email of the user who sent it (an outgoing message); omitted for incoming ones.
    author: str | None = None
    attachments: list[AttachmentSeed] = Field(default_factory=list)


class CommentSeed(SeedModel):
    author: NonEmpty
    body: NonEmpty
    created_at: Timestamp | None = None


class PostFieldSeed(SeedModel):
    title: str
    value: str
    short: bool = False


class PostBlockSeed(SeedModel):
    """An attachment block of a post (spec 2.10.1)."""

    color: str | None = None
    pretext: str | None = None
    author_name: str | None = None
    author_link: str | None = None
    author_icon: str | None = None
    title: str | None = None
    title_link: str | None = None
    image_url: str | None = None
    text: str | None = None
    markdown: str | None = None
    timestamp: Timestamp | None = None
    footer: str | None = None
    footer_icon: str | None = None
    fields: list[PostFieldSeed] | None = None


class NotificationSeed(SeedModel):
    """A title, a body or both, as ``POST /v1/posts`` accepts (docs/compatibility.md, Posts)."""

    title: str | None = None
    body: str | None = None

    @model_validator(mode="after")
    def _has_text(self) -> NotificationSeed:
        if not (self.title or self.body):
            raise ValueError("a notification needs a 'title' or a 'body'")
        return self


class PostSeed(SeedModel):
    notification: NotificationSeed | None = None
    username: str | None = None
    username_icon: str | None = None
    conversation_icon: str | None = None
    text: str | None = None
    markdown: str | None = None
    attachments: list[PostBlockSeed] = Field(default_factory=list)
    #: Email of the user whose token posted it (optional).
    author: str | None = None
    created_at: Timestamp | None = None

    @model_validator(mode="after")
    def _has_content(self) -> PostSeed:
        if not (self.text or self.markdown or self.attachments):
            raise ValueError("a post needs 'text', 'markdown' or 'attachments'")
        return self


class ConversationSeed(SeedModel):
    #: Identity used to find the conversation again on the next run.
    key: str | None = None
    organization: str | None = None
    #: An account's address, phone number or name.
    account: str | None = None
    team: str | None = None
    subject: str | None = None
    color: str | None = None
    #: Users with access (assignees and flagged users get access too).
    users: list[str] = Field(default_factory=list)
    assignees: list[str] = Field(default_factory=list)
    flagged: list[str] = Field(default_factory=list)
    closed: bool = False
    shared_labels: list[str] = Field(default_factory=list)
    messages: list[MessageSeed] = Field(default_factory=list)
    comments: list[CommentSeed] = Field(default_factory=list)
    posts: list[PostSeed] = Field(default_factory=list)


class TaskSeed(SeedModel):
    """A standalone task (spec 2.14), matched by (organization, title) on later runs."""

    organization: NonEmpty
    title: NonEmpty
    description: str | None = None
    state: Literal["todo", "in_progress", "closed"] = "todo"
    team: str | None = None
    #: Emails of the assignees (members of the organization).
    assignees: list[str] = Field(default_factory=list)
    #: Email of the user who created it.
    creator: str | None = None
    due_at: Timestamp | None = None

    @model_validator(mode="after")
    def _has_owner(self) -> TaskSeed:
        if self.team is None and not self.assignees:
            raise ValueError("a standalone task needs a 'team' or 'assignees'")
        return self


class ResponseAttachmentSeed(AttachmentSeed):
    #: A temporary id: ``data-missive-attachment-id="<id>"`` in the body makes it inline.
    id: str | None = None


class ResponseSeed(SeedModel):
    """A canned response (spec 2.9): an organization's, or personal (``user``: an email)."""

    title: NonEmpty
    organization: str | None = None
    user: str | None = None
    body: str | None = None
    subject: str | None = None
    #: A team name and label names (or paths) of the response's organization.
    share_with_team: str | None = None
    shared_labels: list[str] = Field(default_factory=list)
    to_fields: list[AddressSeed] = Field(default_factory=list)
    cc_fields: list[AddressSeed] = Field(default_factory=list)
    bcc_fields: list[AddressSeed] = Field(default_factory=list)
    external_id: str | None = None
    external_source: str | None = None
    #: Seeds an integration template (read-only through the API), e.g. ``whatsapp``.
    integration: str | None = None
    #: Email of the creator; defaults to ``user`` for personal responses.
    created_by: str | None = None
    attachments: list[ResponseAttachmentSeed] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_owner(self) -> ResponseSeed:
        if (self.organization is None) == (self.user is None):
            raise ValueError("a response needs exactly one of 'organization' or 'user'")
        if self.user is not None and (self.share_with_team or self.shared_labels):
            raise ValueError("'share_with_team' and 'shared_labels' need 'organization'")
        if self.external_id is not None and self.external_source is None:
            raise ValueError("'external_id' needs 'external_source'")
        recipients = (*self.to_fields, *self.cc_fields, *self.bcc_fields)
        if any(not r.address for r in recipients):
            raise ValueError("recipients of a response need an 'address'")
        return self


class SeedDocument(SeedModel):
    organizations: list[OrganizationSeed] = Field(default_factory=list)
    users: list[UserSeed] = Field(default_factory=list)
    teams: list[TeamSeed] = Field(default_factory=list)
    accounts: list[AccountSeed] = Field(default_factory=list)
    shared_labels: list[SharedLabelSeed] = Field(default_factory=list)
    contact_books: list[ContactBookSeed] = Field(default_factory=list)
    conversations: list[ConversationSeed] = Field(default_factory=list)
    tasks: list[TaskSeed] = Field(default_factory=list)
    responses: list[ResponseSeed] = Field(default_factory=list)

    def entry_count(self) -> int:
        """How many entries ``seed`` walks through (drives progress bars)."""
        sections = (self.organizations, self.users, self.teams, self.accounts, self.shared_labels)
        return (
            sum(len(s) for s in sections)
            + len(self.contact_books)
            + len(self.conversations)
            + len(self.tasks)
            + len(self.responses)
        )


def entry_label(section: str, index: int, raw: object) -> str:
    """``teams[0] (Support)``: where an entry sits, and what it is called when it says."""
    label = f"{section}[{index}]"
    if isinstance(raw, dict):
        for name_field in ("email", "key", "name", "address", "phone_number", "subject", "title"):
            value = raw.get(name_field)
            if isinstance(value, str) and value:
                return f"{label} ({value})"
    return label


def describe_validation_error(error: ValidationError, raw: Any) -> str:
    """One line per problem: ``users[1] (bob@acme.test): organizations.Acme: <what is wrong>``."""
    return "\n".join(_describe(item["loc"], item["msg"], raw) for item in error.errors())


def _describe(loc: tuple[int | str, ...], message: str, raw: Any) -> str:
    if message == "Extra inputs are not permitted":
        message = "unknown field"
    message = message.removeprefix("Value error, ")
    if len(loc) >= 2 and isinstance(loc[0], str) and isinstance(loc[1], int):
        section, index = loc[0], loc[1]
        entries = raw.get(section) if isinstance(raw, dict) else None
        entry = entries[index] if isinstance(entries, list) and index < len(entries) else None
        rest = list(loc[2:])
        if section == "accounts" and rest and rest[0] in _ACCOUNT_TAGS:
            rest = rest[1:]
        where = entry_label(section, index, entry)
        return f"{where}: {_path(rest)}: {message}" if rest else f"{where}: {message}"
    return f"{_path(list(loc)) or 'document'}: {message}"


#: Pydantic puts the discriminator value into the path of tagged unions; people never wrote it.
_ACCOUNT_TAGS = frozenset({"email", "sms", "whatsapp", "custom"})


def _path(parts: list[int | str]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
