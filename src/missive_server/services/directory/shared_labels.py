"""Shared labels (spec 2.11): who may see and use them, nesting, and sharing settings."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, delete, or_, select
from sqlalchemy.orm import Session

from missive_server.auth import Principal
from missive_server.db.models import SharedLabel, SharedLabelUser
from missive_server.errors import BadRequest, not_found
from missive_server.ids import new_id
from missive_server.pagination import OffsetPage
from missive_server.schemas.shared_labels import (
    SharedLabelFields,
    SharedLabelIn,
    SharedLabelLike,
    SharedLabelPatch,
)
from missive_server.services.directory.organizations import (
    organization_filter,
    require_admin,
    require_member,
)
from missive_server.services.directory.teams import (
    in_path_order,
    match_path_ids,
    require_team_in_organization,
)
from missive_server.services.directory.users import require_users_in_organization

RESOURCE = "Shared label"


@dataclass(frozen=True, slots=True)
class SharedLabelView:
    label: SharedLabel
    name_with_parent_names: str
    share_with_users: list[str]


def accessible(actor: Principal) -> ColumnElement[bool]:
    """Labels the caller may see and use: ``organization`` labels of their organizations, and
    ``delegates`` labels only as an admin/owner or an auto-shared user (spec 2.11.1)."""
    admin_of = [o for o in actor.organization_ids if actor.is_admin(o)]
    shared_with_caller = select(SharedLabelUser.shared_label_id).where(
        SharedLabelUser.user_id == actor.user_id
    )
    return and_(
        SharedLabel.organization_id.in_(actor.organization_ids),
        or_(
            SharedLabel.visibility == "organization",
            SharedLabel.organization_id.in_(admin_of),
            SharedLabel.id.in_(shared_with_caller),
        ),
    )


def list_shared_labels(
    session: Session, *, actor: Principal, organization_id: str | None, page: OffsetPage
) -> list[SharedLabelView]:
    organizations = organization_filter(actor, organization_id)
    labels = session.scalars(
        select(SharedLabel)
        .where(SharedLabel.organization_id.in_(organizations), accessible(actor))
        .order_by(SharedLabel.name, SharedLabel.id)
        .limit(page.limit)
        .offset(page.offset)
    ).all()
    return label_views(session, labels)


def label_views(session: Session, labels: Sequence[SharedLabel]) -> list[SharedLabelView]:
    """Everything the full wire form needs, for a whole page in a few queries."""
    names = names_with_parents(session, labels)
    users = share_with_users_of(session, [label.id for label in labels])
    return [SharedLabelView(label, names[label.id], users[label.id]) for label in labels]


def names_with_parents(session: Session, labels: Iterable[SharedLabelLike]) -> dict[str, str]:
    """``name_with_parent_names`` of each label: ancestor names joined with ``/`` (spec 1A).

    Ancestors are loaded level by level, one query per nesting depth for the whole batch.
    """
    labels = list(labels)
    known = {label.id: (label.name, label.parent_id) for label in labels}
    _load_ancestors(session, known)
    return {label.id: "/".join(reversed(_chain_names(known, label.id))) for label in labels}


def share_with_users_of(session: Session, label_ids: Sequence[str]) -> dict[str, list[str]]:
    users: dict[str, list[str]] = {label_id: [] for label_id in label_ids}
    if not users:
        return users
    rows = session.execute(
        select(SharedLabelUser.shared_label_id, SharedLabelUser.user_id)
        .where(SharedLabelUser.shared_label_id.in_(users))
        .order_by(SharedLabelUser.user_id)
    )
    for label_id, user_id in rows:
        users[label_id].append(user_id)
    return users


def _load_ancestors(session: Session, known: dict[str, tuple[str, str | None]]) -> None:
    missing = {parent for _, parent in known.values() if parent is not None and parent not in known}
    while missing:
        rows = session.execute(
            select(SharedLabel.id, SharedLabel.name, SharedLabel.parent_id).where(
                SharedLabel.id.in_(missing)
            )
        ).all()
        for label_id, name, parent in rows:
            known[label_id] = (name, parent)
        missing = {parent for _, _, parent in rows if parent is not None and parent not in known}


def _chain_names(known: dict[str, tuple[str, str | None]], label_id: str) -> list[str]:
    """Names from the label up to its root; stops on a (never expected) loop."""
    names: list[str] = []
    seen: set[str] = set()
    current: str | None = label_id
    while current is not None and current in known and current not in seen:
        seen.add(current)
        name, current = known[current]
        names.append(name)
    return names


def create_shared_labels(
    session: Session, *, actor: Principal, items: Sequence[SharedLabelIn], now: int
) -> list[SharedLabelView]:
    """All or nothing: the first invalid item raises and the request rolls back."""
    labels = [_create_label(session, actor=actor, item=item, now=now) for item in items]
    session.flush()
    return label_views(session, labels)


def _create_label(
    session: Session, *, actor: Principal, item: SharedLabelIn, now: int
) -> SharedLabel:
    organization_id = require_member(actor, item.organization)
    label = SharedLabel(
        id=new_id(),
        organization_id=organization_id,
        name=item.name,
        color=item.color,
        visibility="organization",
        share_with_organization=False,
        created_at=now,
    )
    if item.parent is not None:
        label.parent_id = _require_label(session, actor, organization_id, item.parent).id
    session.add(label)
    _apply_sharing(session, actor, label, item, current_users=[])
    return label


def update_shared_labels(
    session: Session,
    *,
    actor: Principal,
    label_ids: Sequence[str],
    items: Sequence[SharedLabelPatch],
) -> list[SharedLabelView]:
    patches = match_path_ids(label_ids, items, key="shared_labels")
    labels = _visible_labels(session, actor, label_ids)
    users = share_with_users_of(session, label_ids)
    for label in labels:
        _update_label(session, actor, label, patches[label.id], users[label.id])
        # The session does not autoflush: later items' cycle checks must see this new parent.
        session.flush()
    return label_views(session, labels)


def _update_label(
    session: Session,
    actor: Principal,
    label: SharedLabel,
    patch: SharedLabelPatch,
    users: list[str],
) -> None:
    given = patch.model_fields_set
    if patch.name is not None:
        label.name = patch.name
    if "color" in given:
        label.color = patch.color
    if "parent" in given:
        label.parent_id = _checked_parent(session, actor, label, patch.parent)
    _apply_sharing(session, actor, label, patch, current_users=users)


def _visible_labels(
    session: Session, actor: Principal, label_ids: Sequence[str]
) -> list[SharedLabel]:
    found = {
        label.id: label
        for label in session.scalars(
            select(SharedLabel).where(SharedLabel.id.in_(label_ids), accessible(actor))
        )
    }
    return in_path_order(found, label_ids, RESOURCE)


def _require_label(
    session: Session, actor: Principal, organization_id: str, label_id: str
) -> SharedLabel:
    """A label of the same organization the caller can see; any other id is unknown (404)."""
    label = session.scalar(
        select(SharedLabel).where(
            SharedLabel.id == label_id,
            SharedLabel.organization_id == organization_id,
            accessible(actor),
        )
    )
    if label is None:
        raise not_found(RESOURCE, label_id)
    return label


def _checked_parent(
    session: Session, actor: Principal, label: SharedLabel, parent_id: str | None
) -> str | None:
    if parent_id is None:
        return None
    parent = _require_label(session, actor, label.organization_id, parent_id)
    known = {parent.id: (parent.name, parent.parent_id)}
    _load_ancestors(session, known)
    if label.id in _chain_ids(known, parent.id):
        raise BadRequest(
            f"'parent' of shared label '{label.id}' cannot be the label itself"
            " or one of its descendants"
        )
    return parent.id


def _chain_ids(known: dict[str, tuple[str, str | None]], label_id: str) -> set[str]:
    chain: set[str] = set()
    current: str | None = label_id
    while current is not None and current not in chain:
        chain.add(current)
        current = known[current][1] if current in known else None
    return chain


def _apply_sharing(
    session: Session,
    actor: Principal,
    label: SharedLabel,
    item: SharedLabelFields,
    *,
    current_users: list[str],
) -> None:
    """Sharing settings are admin-only (spec 2.11); resending the current values is not a change,
    so clients may send back the whole object they read."""
    if not _changes_sharing(label, item, current_users):
        return
    require_admin(actor, label.organization_id)
    if item.visibility is not None:
        label.visibility = item.visibility
    if item.share_with_organization is not None:
        label.share_with_organization = item.share_with_organization
    if "share_with_team" in item.model_fields_set:
        team_id = item.share_with_team
        label.share_with_team_id = (
            None
            if team_id is None
            else require_team_in_organization(session, label.organization_id, team_id)
        )
    if item.share_with_users is not None:
        wanted = require_users_in_organization(
            session, label.organization_id, item.share_with_users
        )
        if current_users:
            session.execute(
                delete(SharedLabelUser).where(SharedLabelUser.shared_label_id == label.id)
            )
        session.add_all([SharedLabelUser(shared_label_id=label.id, user_id=u) for u in wanted])


def _changes_sharing(label: SharedLabel, item: SharedLabelFields, current_users: list[str]) -> bool:
    return (
        (item.visibility is not None and item.visibility != label.visibility)
        or (
            item.share_with_organization is not None
            and item.share_with_organization != label.share_with_organization
        )
        or (
            "share_with_team" in item.model_fields_set
            and item.share_with_team != label.share_with_team_id
        )
        or (item.share_with_users is not None and set(item.share_with_users) != set(current_users))
    )
