"""The "conversation action" family (spec 1B), shared by drafts, messages, posts and PATCH.

Validation resolves every id first (unknown ids and ids of other organizations are the same
404), so a caller can validate a whole batch before writing anything. Applying never moves
``last_activity_at``: PATCH is silent (spec 2.5.3); writers that add content call
``conversation_state.touch`` themselves.

Choices where Missive is silent (listed in docs/compatibility.md):
- ``add_users`` puts the conversation in the users' Inbox (also for users who only had it in All).
- ``add_assignees`` grants access and puts it in the new assignees' Inbox.
- linking a team, and labels shared with users/teams/the organization, grant access in All only.
- ``close`` closes for every user except where it is in Trash or Spam; ``reopen`` moves it from
  Closed to Inbox for everyone (and the team's Closed to its Inbox). ``close`` wins over ``reopen``.
- ``close`` records ``Conversation.closed_at`` (the first close time: closing again keeps it);
  ``reopen``, ``add_to_inbox`` and ``add_to_team_inbox`` clear it.
- a personal conversation is linked to ``organization`` (or to ``team``'s); a conversation of
  another organization is a 404.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from missive_server.auth import Principal
from missive_server.db.models import (
    Conversation,
    ConversationUser,
    SharedLabel,
    Team,
    TeamMember,
)
from missive_server.errors import BadRequest, not_found
from missive_server.schemas.conversation_actions import (
    COLOR_RULE,
    ConversationActions,
    is_conversation_color,
)
from missive_server.services import events as domain_events
from missive_server.services.conversations import conversation_labels, search_terms
from missive_server.services.conversations.conversation_labels import TEAM_ROLES
from missive_server.services.conversations.conversations import (
    get_visible_conversation,
    resolve_merges,
)
from missive_server.services.conversations.messages import normalize_reference, referenced
from missive_server.services.directory.organizations import require_member
from missive_server.services.directory.shared_labels import accessible
from missive_server.services.directory.users import require_users_in_organization

#: The parameters that only make sense inside one organization (spec 1B, 2.5.3).
NEEDS_ORGANIZATION = ("add_users", "add_assignees", "remove_assignees", "add_shared_labels")


@dataclass(slots=True)
class ResolvedActions:
    """The rows validation found, so applying does not look them up again."""

    organization_id: str | None = None
    team: Team | None = None
    add_labels: list[SharedLabel] = field(default_factory=list)


def validate_actions(
    session: Session,
    actions: ConversationActions,
    *,
    actor: Principal,
    conversation: Conversation | None = None,
) -> ResolvedActions:
    """Check ``actions`` against ``conversation`` (``None`` for one about to be created)."""
    _check_shape(actions)
    organization_id = _organization(actor, actions, conversation)
    team = find_team(session, actor, actions.team, organization_id)
    if team is not None:
        organization_id = team.organization_id
    user_ids = [*actions.add_users, *actions.add_assignees, *actions.remove_assignees]
    if organization_id is not None and user_ids:
        require_users_in_organization(session, organization_id, user_ids)
    labels = _labels(
        session, actor, [*actions.add_shared_labels, *actions.remove_shared_labels], organization_id
    )
    return ResolvedActions(
        organization_id=organization_id,
        team=team,
        add_labels=[labels[i] for i in dict.fromkeys(actions.add_shared_labels)],
    )


def _check_shape(actions: ConversationActions) -> None:
    if actions.organization is None:
        for name in NEEDS_ORGANIZATION:
            if getattr(actions, name):
                raise BadRequest(f"'organization' is required when using '{name}'")
    if actions.add_to_team_inbox and actions.team is None:
        raise BadRequest("'team' is required when using 'add_to_team_inbox'")
    if actions.color and not is_conversation_color(actions.color):
        raise BadRequest(f"'color' {COLOR_RULE}")


def _organization(
    actor: Principal, actions: ConversationActions, conversation: Conversation | None
) -> str | None:
    current = conversation.organization_id if conversation is not None else None
    if actions.organization is None:
        return current
    require_member(actor, actions.organization)
    if conversation is not None and current not in (None, actions.organization):
        # Another organization's conversation is not reachable through this one (spec 1B).
        raise not_found("Conversation", conversation.id)
    return actions.organization


def find_team(
    session: Session, actor: Principal, team_id: str | None, organization_id: str | None
) -> Team | None:
    """The team of one of the actor's organizations (``organization_id``'s when given), or 404."""
    if team_id is None:
        return None
    team = session.get(Team, team_id)
    if team is None or not actor.is_member(team.organization_id):
        raise not_found("Team", team_id)
    if organization_id is not None and team.organization_id != organization_id:
        raise not_found("Team", team_id)
    return team


def _labels(
    session: Session, actor: Principal, label_ids: Sequence[str], organization_id: str | None
) -> dict[str, SharedLabel]:
    """Labels the actor can see (``shared_labels.accessible``) in ``organization_id``; else 404."""
    wanted = list(dict.fromkeys(label_ids))
    if not wanted:
        return {}
    found = {
        label.id: label
        for label in session.scalars(
            select(SharedLabel).where(SharedLabel.id.in_(wanted), accessible(actor))
        )
    }
    for label_id in wanted:
        label = found.get(label_id)
        if label is None or organization_id not in (None, label.organization_id):
            raise not_found("Shared label", label_id)
    return found


def apply_actions(
    session: Session,
    conversation: Conversation,
    actions: ConversationActions,
    *,
    actor: Principal,
    now: int,
) -> None:
    """Validate, then apply ``actions`` to ``conversation`` (spec 1B)."""
    resolved = validate_actions(session, actions, actor=actor, conversation=conversation)
    apply_resolved(session, conversation, actions, resolved, now=now)


def apply_resolved(
    session: Session,
    conversation: Conversation,
    actions: ConversationActions,
    resolved: ResolvedActions,
    *,
    now: int,
) -> None:
    """Apply actions already checked by ``validate_actions`` against this conversation."""
    if conversation.organization_id is None and resolved.organization_id is not None:
        conversation.organization_id = resolved.organization_id
    access = _Access(session, conversation, now)
    events: list[str] = []
    if resolved.team is not None and _link_team(
        session, conversation, resolved.team, force=actions.force_team, access=access
    ):
        events.append("team_change")
    for row in access.grant(actions.add_users, location="inbox"):
        if row.location == "none":
            row.location = "inbox"
    assigned = _assign(access, actions.add_assignees, now)
    if _unassign(access, actions.remove_assignees) or assigned:
        events.append("conversation_assignee_change")
    labeled = conversation_labels.add_labels(session, conversation, resolved.add_labels, now)
    if labeled is not None:
        access.grant(labeled.audience, location="none")
    removed = conversation_labels.remove_labels(session, conversation, actions.remove_shared_labels)
    if removed or (labeled is not None and labeled.changed):
        events.append("label_change")
    events += _move(conversation, actions, access)
    if actions.subject is not None:
        conversation.subject = actions.subject or None
        search_terms.index_subject(session, conversation)
    if actions.color is not None:
        conversation.color = actions.color or None
    session.flush()
    for name in events:
        domain_events.record(session, event=name, conversation=conversation, now=now)


_ANY_CLOSED = (
    select(ConversationUser.user_id)
    .where(
        ConversationUser.conversation_id == bindparam("conversation_id"),
        ConversationUser.location == "closed",
    )
    .limit(1)
)


class _Access:
    """The conversation's users, loaded once (lazily) and granted in memory."""

    def __init__(self, session: Session, conversation: Conversation, now: int) -> None:
        self.session = session
        self.conversation = conversation
        self.now = now
        self._rows: dict[str, ConversationUser] | None = None

    def any_closed(self) -> bool:
        """Whether any user has the conversation in Closed: one indexed probe, not the users
        loaded as entities (most posts reopen a conversation nobody closed, issue 13)."""
        if self._rows is not None:
            return any(row.location == "closed" for row in self._rows.values())
        self.session.flush()  # Core does not autoflush: rows added in this transaction count
        params = {"conversation_id": self.conversation.id}
        return self.session.connection().execute(_ANY_CLOSED, params).first() is not None

    @property
    def rows(self) -> dict[str, ConversationUser]:
        if self._rows is None:
            self._rows = {
                row.user_id: row
                for row in self.session.scalars(
                    select(ConversationUser).where(
                        ConversationUser.conversation_id == self.conversation.id
                    )
                )
            }
        return self._rows

    def grant(self, user_ids: Iterable[str], *, location: str) -> list[ConversationUser]:
        """Rows for ``user_ids``, created at ``location`` for users without access."""
        granted = []
        for user_id in dict.fromkeys(user_ids):
            row = self.rows.get(user_id)
            if row is None:
                row = ConversationUser(
                    conversation_id=self.conversation.id,
                    user_id=user_id,
                    location=location,
                    flagged=False,
                    assigned=False,
                    unassigned=False,
                    added_at=self.now,
                    last_activity_at=self.conversation.last_activity_at,
                )
                self.session.add(row)
                self.rows[user_id] = row
            granted.append(row)
        return granted


def _link_team(
    session: Session, conversation: Conversation, team: Team, *, force: bool, access: _Access
) -> bool:
    if conversation.team_id == team.id or (conversation.team_id is not None and not force):
        return False
    conversation.team_id = team.id
    conversation.team_state = "inbox"
    members = session.scalars(
        select(TeamMember.user_id)
        .where(TeamMember.team_id == team.id, TeamMember.role.in_(TEAM_ROLES))
        .order_by(TeamMember.role, TeamMember.position)
    )
    access.grant(members, location="none")
    return True


def _assign(access: _Access, user_ids: Sequence[str], now: int) -> bool:
    changed = False
    for row in access.grant(user_ids, location="inbox"):
        if row.assigned:
            continue
        row.assigned, row.unassigned, row.assigned_at = True, False, now
        row.location, row.snoozed_until = "inbox", None
        changed = True
    return changed


def _unassign(access: _Access, user_ids: Sequence[str]) -> bool:
    changed = False
    for user_id in dict.fromkeys(user_ids):
        row = access.rows.get(user_id)
        if row is not None and row.assigned:
            row.assigned, row.unassigned, row.assigned_at = False, True, None
            changed = True
    return changed


def _move(conversation: Conversation, actions: ConversationActions, access: _Access) -> list[str]:
    """Apply the moves; the events of the ones that changed something (a ``close`` of a
    conversation closed everywhere already is no ``conversation_closed``)."""
    if not (actions.add_to_inbox or actions.add_to_team_inbox or actions.close or actions.reopen):
        return []  # nothing moves: no need to load the users (most posts and messages)
    only_reopen = not (actions.add_to_inbox or actions.add_to_team_inbox or actions.close)
    if (
        only_reopen
        and conversation.closed_at is None
        and conversation.team_state != "closed"
        and not access.any_closed()
    ):
        return []  # reopening what nobody closed: nothing moves (a post's usual case)
    has_team = conversation.team_id is not None
    before = _closed_places(conversation, access)
    if actions.add_to_inbox:
        for row in access.rows.values():
            row.location, row.snoozed_until = "inbox", None
    if actions.add_to_team_inbox and has_team:
        conversation.team_state = "inbox"
    if actions.close:
        for row in access.rows.values():
            if row.location not in ("trashed", "junked"):
                row.location, row.snoozed_until = "closed", None
        if has_team:
            conversation.team_state = "closed"
        if conversation.closed_at is None:  # closing again keeps the resolution time
            conversation.closed_at = access.now
    else:
        if actions.reopen or actions.add_to_inbox or (actions.add_to_team_inbox and has_team):
            conversation.closed_at = None
        if actions.reopen:
            for row in access.rows.values():
                if row.location == "closed":
                    row.location = "inbox"
            if conversation.team_state == "closed":
                conversation.team_state = "inbox"
    after = _closed_places(conversation, access)
    if after > before:
        return ["conversation_closed"]
    return ["conversation_reopened"] if after < before else []


def _closed_places(conversation: Conversation, access: _Access) -> int:
    """How many users (and the team) have the conversation in Closed."""
    users = sum(1 for row in access.rows.values() if row.location == "closed")
    return users + (conversation.team_state == "closed")


def update_conversations(
    session: Session,
    *,
    actor: Principal,
    changes: Sequence[tuple[str, ConversationActions]],
    now: int,
) -> list[Conversation]:
    """``PATCH /v1/conversations/:ids``: every id and every action is checked before any write."""
    found = [
        get_visible_conversation(session, actor=actor, conversation_id=cid) for cid, _ in changes
    ]
    plans = [
        validate_actions(session, actions, actor=actor, conversation=conversation)
        for conversation, (_, actions) in zip(found, changes, strict=True)
    ]
    for conversation, (_, actions), plan in zip(found, changes, plans, strict=True):
        apply_resolved(session, conversation, actions, plan, now=now)
    return found


def locate_conversation(
    session: Session,
    *,
    actor: Principal,
    conversation_id: str | None,
    references: Sequence[str] | None,
    organization_id: str | None,
) -> Conversation | None:
    """The conversation a draft, message or post goes to (spec 1B), or ``None`` for a new one.

    By id (404 if not visible; merged ids follow to the survivor), else by the first of
    ``references`` that matches a conversation the actor can access (in ``organization_id``
    when given). Chevrons are optional.
    """
    if conversation_id is not None:
        return get_visible_conversation(session, actor=actor, conversation_id=conversation_id)
    if organization_id is not None:
        require_member(actor, organization_id)
    wanted = [r for r in dict.fromkeys(normalize_reference(v) for v in references or ()) if r]
    if not wanted:
        return None
    found = referenced(wanted)
    stmt = (
        select(found.c.reference, Conversation)
        .join(Conversation, Conversation.id == found.c.conversation_id)
        .join(
            ConversationUser,
            (ConversationUser.conversation_id == Conversation.id)
            & (ConversationUser.user_id == actor.user_id),
        )
        .order_by(Conversation.last_activity_at.desc(), Conversation.id)
    )
    if organization_id is not None:
        stmt = stmt.where(Conversation.organization_id == organization_id)
    matches: dict[str, Conversation] = {}
    for reference, conversation in session.execute(stmt):
        matches.setdefault(reference, conversation)
    first = next((matches[r] for r in wanted if r in matches), None)
    return resolve_merges(session, first)
