"""Everything needed to render conversations, loaded for a whole page in a fixed number of
queries (no N+1): the rows, organizations, teams, users with their state, and labels."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from missive_server.auth import Principal
from missive_server.db.models import (
    Conversation,
    ConversationLabel,
    ConversationUser,
    Organization,
    SharedLabel,
    SharedLabelUser,
    Team,
    User,
)
from missive_server.schemas.conversations import (
    ConversationRow,
    ConversationView,
    LabelRow,
    LabelView,
    OrganizationRow,
    TeamRow,
    UserRow,
    UserStateRow,
)
from missive_server.services.directory.shared_labels import names_with_parents


def load_views(
    session: Session,
    conversations: Sequence[Conversation | ConversationRow],
    *,
    actor: Principal | None,
) -> list[ConversationView]:
    """``actor=None`` renders as a member of each conversation's organization sees it (hook
    payloads, which pick the guest stub themselves)."""
    if not conversations:
        return []
    ids = [c.id for c in conversations]
    organizations = _organizations(session, {c.organization_id for c in conversations})
    teams = _teams(session, {c.team_id for c in conversations})
    users = _users(session, ids)
    labels = _labels(session, ids)
    return [
        ConversationView(
            conversation=c,
            organization=organizations.get(c.organization_id or ""),
            team=teams.get(c.team_id or ""),
            guest=actor is not None
            and c.organization_id is not None
            and not actor.is_member(c.organization_id),
            users=users.get(c.id, []),
            labels=labels.get(c.id, []),
        )
        for c in conversations
    ]


# Statements built once with expanding ``ids`` parameters: every rendered conversation runs
# them, and building a statement and its cache key per call cost as much as executing it
# (docs/architecture.md, "Performance notes"). Column lists, run through Core into plain tuples:
# loading ORM entities here cost more than the statements themselves (issue 13).
_ORGANIZATIONS = select(Organization.id, Organization.name).where(
    Organization.id.in_(bindparam("ids", expanding=True))
)
_TEAMS = select(Team.id, Team.name, Team.organization_id).where(
    Team.id.in_(bindparam("ids", expanding=True))
)
_USERS = (
    select(
        User.id,
        User.name,
        User.email,
        ConversationUser.conversation_id,
        ConversationUser.location,
        ConversationUser.flagged,
        ConversationUser.assigned,
        ConversationUser.unassigned,
        ConversationUser.assigned_at,
        ConversationUser.last_activity_at,
        ConversationUser.read_at,
    )
    .join(ConversationUser, ConversationUser.user_id == User.id)
    .where(ConversationUser.conversation_id.in_(bindparam("ids", expanding=True)))
    .order_by(ConversationUser.added_at, User.name)
)
_LABELS = (
    select(
        ConversationLabel.conversation_id,
        SharedLabel.id,
        SharedLabel.organization_id,
        SharedLabel.name,
        SharedLabel.color,
        SharedLabel.parent_id,
        SharedLabel.share_with_organization,
        SharedLabel.share_with_team_id,
        SharedLabel.visibility,
    )
    .join(SharedLabel, SharedLabel.id == ConversationLabel.shared_label_id)
    .where(ConversationLabel.conversation_id.in_(bindparam("ids", expanding=True)))
    .order_by(ConversationLabel.added_at, SharedLabel.name)
)
_LABEL_USERS = select(SharedLabelUser.shared_label_id, SharedLabelUser.user_id).where(
    SharedLabelUser.shared_label_id.in_(bindparam("ids", expanding=True))
)


def _organizations(session: Session, ids: set[str | None]) -> dict[str, OrganizationRow]:
    wanted = [i for i in ids if i]
    if not wanted:
        return {}
    rows = session.connection().execute(_ORGANIZATIONS, {"ids": wanted})
    return {row[0]: OrganizationRow._make(row) for row in rows}


def _teams(session: Session, ids: set[str | None]) -> dict[str, TeamRow]:
    wanted = [i for i in ids if i]
    if not wanted:
        return {}
    rows = session.connection().execute(_TEAMS, {"ids": wanted})
    return {row[0]: TeamRow._make(row) for row in rows}


def _users(session: Session, ids: list[str]) -> dict[str, list[tuple[UserRow, UserStateRow]]]:
    grouped: dict[str, list[tuple[UserRow, UserStateRow]]] = defaultdict(list)
    for row in session.connection().execute(_USERS, {"ids": ids}):
        grouped[row[3]].append((UserRow._make(row[:3]), UserStateRow._make(row[3:])))
    return grouped


def _labels(session: Session, ids: list[str]) -> dict[str, list[LabelView]]:
    rows = [
        (row[0], LabelRow._make(row[1:]))
        for row in session.connection().execute(_LABELS, {"ids": ids})
    ]
    if not rows:
        return {}
    labels = {label.id: label for _, label in rows}
    names = names_with_parents(session, list(labels.values()))
    shared_users: dict[str, list[str]] = defaultdict(list)
    for label_id, user_id in session.connection().execute(_LABEL_USERS, {"ids": list(labels)}):
        shared_users[label_id].append(user_id)
    grouped: dict[str, list[LabelView]] = defaultdict(list)
    for conversation_id, label in rows:
        grouped[conversation_id].append(
            LabelView(label, names[label.id], shared_users.get(label.id, []))
        )
    return grouped
