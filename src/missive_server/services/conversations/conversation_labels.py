"""Linking shared labels to a conversation (spec 1B ``add_shared_labels`` /
``remove_shared_labels``), reporting whether anything changed (a ``label_change`` event)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from missive_server.db.models import (
    Conversation,
    ConversationLabel,
    Membership,
    SharedLabel,
    SharedLabelUser,
    TeamMember,
)

#: Team roles whose members a team-shared label reaches.
TEAM_ROLES = ("active", "observer")


@dataclass(frozen=True, slots=True)
class LabelsAdded:
    #: Whether a label was not linked before.
    changed: bool
    #: Users the labels share the conversation with (to be given access in All).
    audience: list[str]


def add_labels(
    session: Session,
    conversation: Conversation,
    labels: Sequence[SharedLabel],
    now: int,
) -> LabelsAdded | None:
    """Link ``labels`` (those already linked stay as they are); ``None`` when none given."""
    if not labels:
        return None
    present = set(
        session.scalars(
            select(ConversationLabel.shared_label_id).where(
                ConversationLabel.conversation_id == conversation.id
            )
        )
    )
    added = [label for label in labels if label.id not in present]
    session.add_all(
        ConversationLabel(
            conversation_id=conversation.id,
            shared_label_id=label.id,
            added_at=now,
            last_activity_at=conversation.last_activity_at,
        )
        for label in added
    )
    return LabelsAdded(changed=bool(added), audience=label_audience(session, labels))


def label_audience(session: Session, labels: Sequence[SharedLabel]) -> list[str]:
    """Users a label shares its conversations with: organization, team, listed users."""
    users: set[str] = set()
    organizations = [label.organization_id for label in labels if label.share_with_organization]
    if organizations:
        users.update(
            session.scalars(
                select(Membership.user_id).where(Membership.organization_id.in_(organizations))
            )
        )
    teams = [label.share_with_team_id for label in labels if label.share_with_team_id]
    if teams:
        users.update(
            session.scalars(
                select(TeamMember.user_id).where(
                    TeamMember.team_id.in_(teams), TeamMember.role.in_(TEAM_ROLES)
                )
            )
        )
    users.update(
        session.scalars(
            select(SharedLabelUser.user_id).where(
                SharedLabelUser.shared_label_id.in_([lb.id for lb in labels])
            )
        )
    )
    return sorted(users)


def remove_labels(session: Session, conversation: Conversation, label_ids: Sequence[str]) -> bool:
    """Unlink ``label_ids``; whether any was linked."""
    if not label_ids:
        return False
    removed = session.execute(
        delete(ConversationLabel).where(
            ConversationLabel.conversation_id == conversation.id,
            ConversationLabel.shared_label_id.in_(label_ids),
        )
    )
    return bool(getattr(removed, "rowcount", 0))
