"""Everything needed to render conversations, loaded for a whole page in a fixed number of
queries (no N+1): the rows, organizations, teams, users with their state, and labels."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TypeVar

from sqlalchemy import Select, bindparam, select
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
from missive_server.schemas.conversations import ConversationView, LabelView
from missive_server.services.directory.shared_labels import names_with_parents


def load_views(
    session: Session, conversations: Sequence[Conversation], *, actor: Principal | None
) -> list[ConversationView]:
    """``actor=None`` renders as a member of each conversation's organization sees it (hook
    payloads, which pick the guest stub themselves)."""
    if not conversations:
        return []
    ids = [c.id for c in conversations]
    organizations = _by_id(session, _ORGANIZATIONS, {c.organization_id for c in conversations})
    teams = _by_id(session, _TEAMS, {c.team_id for c in conversations})
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


_Row = TypeVar("_Row", Organization, Team)
# Statements built once with expanding ``ids`` parameters: every rendered conversation runs
# them, and building a statement and its cache key per call cost as much as executing it
# (docs/architecture.md, "Performance notes").
_ORGANIZATIONS = select(Organization).where(Organization.id.in_(bindparam("ids", expanding=True)))
_TEAMS = select(Team).where(Team.id.in_(bindparam("ids", expanding=True)))
_USERS = (
    select(User, ConversationUser)
    .join(ConversationUser, ConversationUser.user_id == User.id)
    .where(ConversationUser.conversation_id.in_(bindparam("ids", expanding=True)))
    .order_by(ConversationUser.added_at, User.name)
)
_LABELS = (
    select(ConversationLabel.conversation_id, SharedLabel)
    .join(SharedLabel, SharedLabel.id == ConversationLabel.shared_label_id)
    .where(ConversationLabel.conversation_id.in_(bindparam("ids", expanding=True)))
    .order_by(ConversationLabel.added_at, SharedLabel.name)
)
_LABEL_USERS = select(SharedLabelUser.shared_label_id, SharedLabelUser.user_id).where(
    SharedLabelUser.shared_label_id.in_(bindparam("ids", expanding=True))
)


def _by_id(session: Session, stmt: Select[_Row], ids: set[str | None]) -> dict[str, _Row]:
    wanted = [i for i in ids if i]
    if not wanted:
        return {}
    return {row.id: row for row in session.scalars(stmt, {"ids": wanted})}


def _users(session: Session, ids: list[str]) -> dict[str, list[tuple[User, ConversationUser]]]:
    grouped: dict[str, list[tuple[User, ConversationUser]]] = defaultdict(list)
    for user, state in session.execute(_USERS, {"ids": ids}):
        grouped[state.conversation_id].append((user, state))
    return grouped


def _labels(session: Session, ids: list[str]) -> dict[str, list[LabelView]]:
    rows = session.execute(_LABELS, {"ids": ids}).all()
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
