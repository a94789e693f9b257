"""Everything needed to render conversations, loaded for a whole page in a fixed number of
queries (no N+1): the rows, organizations, teams, users with their state, and labels."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import Connection, select
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
from missive_server.db.statements import by_ids
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
    connection = session.connection()
    organizations = _organizations(connection, {c.organization_id for c in conversations})
    teams = _teams(connection, {c.team_id for c in conversations})
    users = _users(connection, ids)
    labels = _labels(session, connection, ids)
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


# Statements built once (in both shapes of ``db.statements.by_ids``): every rendered
# conversation runs them, and building a statement and its cache key per call cost as much as
# executing it (docs/architecture.md, "Performance notes"). Column lists, run through Core into
# plain tuples: loading ORM entities here cost more than the statements themselves (issue 13).
_ORGANIZATIONS = by_ids(
    Organization.id, lambda where: select(Organization.id, Organization.name).where(where)
)
_TEAMS = by_ids(
    Team.id, lambda where: select(Team.id, Team.name, Team.organization_id).where(where)
)
_USERS = by_ids(
    ConversationUser.conversation_id,
    lambda where: (
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
        .where(where)
        .order_by(ConversationUser.added_at, User.name)
    ),
)
_LABELS = by_ids(
    ConversationLabel.conversation_id,
    lambda where: (
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
        .where(where)
        .order_by(ConversationLabel.added_at, SharedLabel.name)
    ),
)
_LABEL_USERS = by_ids(
    SharedLabelUser.shared_label_id,
    lambda where: select(SharedLabelUser.shared_label_id, SharedLabelUser.user_id).where(where),
)


def _organizations(connection: Connection, ids: set[str | None]) -> dict[str, OrganizationRow]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    return {row[0]: OrganizationRow._make(row) for row in _ORGANIZATIONS.run(connection, wanted)}


def _teams(connection: Connection, ids: set[str | None]) -> dict[str, TeamRow]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    return {row[0]: TeamRow._make(row) for row in _TEAMS.run(connection, wanted)}


def _users(connection: Connection, ids: list[str]) -> dict[str, list[tuple[UserRow, UserStateRow]]]:
    grouped: dict[str, list[tuple[UserRow, UserStateRow]]] = defaultdict(list)
    for row in _USERS.run(connection, ids):
        grouped[row[3]].append((UserRow._make(row[:3]), UserStateRow._make(row[3:])))
    return grouped


def _labels(session: Session, connection: Connection, ids: list[str]) -> dict[str, list[LabelView]]:
    rows = [(row[0], LabelRow._make(row[1:])) for row in _LABELS.run(connection, ids)]
    if not rows:
        return {}
    labels = {label.id: label for _, label in rows}
    names = names_with_parents(session, list(labels.values()))
    shared_users: dict[str, list[str]] = defaultdict(list)
    for label_id, user_id in _LABEL_USERS.run(connection, labels):
        shared_users[label_id].append(user_id)
    grouped: dict[str, list[LabelView]] = defaultdict(list)
    for conversation_id, label in rows:
        grouped[conversation_id].append(
            LabelView(label, names[label.id], shared_users.get(label.id, []))
        )
    return grouped
