"""All ORM models, imported here so ``Base.metadata`` knows every table."""

from missive_server.db.models.accounts import Account, AccountAlias, AccountUser
from missive_server.db.models.analytics import AnalyticsReport
from missive_server.db.models.canned_responses import (
    CannedResponse,
    CannedResponseAttachment,
    CannedResponseLabel,
)
from missive_server.db.models.comments import Comment
from missive_server.db.models.contacts import (
    Contact,
    ContactBook,
    ContactBookUser,
    ContactGroup,
    ContactInfo,
    ContactMembership,
    ContactSearchTerm,
)
from missive_server.db.models.conversations import (
    Conversation,
    ConversationAddress,
    ConversationLabel,
    ConversationSearchTerm,
    ConversationUser,
)
from missive_server.db.models.hooks import Hook, WebhookAttempt, WebhookDelivery
from missive_server.db.models.idempotency import IdempotencyKey
from missive_server.db.models.messages import (
    Attachment,
    ConversationReference,
    Message,
    MessageReference,
)
from missive_server.db.models.organizations import Membership, Organization, User
from missive_server.db.models.outbox import OutboxItem
from missive_server.db.models.posts import Post
from missive_server.db.models.shared_labels import SharedLabel, SharedLabelUser
from missive_server.db.models.tasks import Task, TaskAssignee
from missive_server.db.models.teams import Team, TeamMember
from missive_server.db.models.tokens import ApiToken, PasswordReset
from missive_server.db.models.web_events import WebEvent

__all__ = [
    "Account",
    "AccountAlias",
    "AccountUser",
    "AnalyticsReport",
    "ApiToken",
    "Attachment",
    "CannedResponse",
    "CannedResponseAttachment",
    "CannedResponseLabel",
    "Comment",
    "Contact",
    "ContactBook",
    "ContactBookUser",
    "ContactGroup",
    "ContactInfo",
    "ContactMembership",
    "ContactSearchTerm",
    "Conversation",
    "ConversationAddress",
    "ConversationLabel",
    "ConversationReference",
    "ConversationSearchTerm",
    "ConversationUser",
    "Hook",
    "IdempotencyKey",
    "Membership",
    "Message",
    "MessageReference",
    "Organization",
    "OutboxItem",
    "PasswordReset",
    "Post",
    "SharedLabel",
    "SharedLabelUser",
    "Task",
    "TaskAssignee",
    "Team",
    "TeamMember",
    "User",
    "WebEvent",
    "WebhookAttempt",
    "WebhookDelivery",
]
