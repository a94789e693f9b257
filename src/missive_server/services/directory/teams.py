"""Teams (spec 2.12): list, create and update, with ordered active members and observers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from missive_server.auth import Principal
from missive_server.db.models import Team, TeamMember
from missive_server.errors import BadRequest, not_found
from missive_server.ids import new_id
from missive_server.pagination import OffsetPage
from missive_server.schemas.teams import TEAM_SETTINGS, TeamIn, TeamPatch
from missive_server.services.directory.organizations import organization_filter, require_admin
from missive_server.services.directory.users import require_users_in_organization

ACTIVE = "active"
OBSERVER = "observer"


@dataclass(frozen=True, slots=True)
class TeamView:
    team: Team
    active_members: list[str]
    observers: list[str]


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


Item = TypeVar("Item", bound=_HasId)


def match_path_ids(path_ids: Sequence[str], items: Sequence[Item], *, key: str) -> dict[str, Item]:
    """Batch PATCH bodies hold exactly one object per id of the path (spec 1.8)."""
    by_id = {item.id.strip().lower(): item for item in items}
    if len(by_id) != len(items) or set(by_id) != set(path_ids):
        raise BadRequest(
            f"'{key}' must hold exactly one object per id in the path, each with its 'id'"
        )
    return by_id


Found = TypeVar("Found")


def in_path_order(found: Mapping[str, Found], ids: Sequence[str], resource: str) -> list[Found]:
    """The rows of a batch path (spec 1.8) in its order; the first missing id is a 404, hidden
    rows (other organizations, no access) having been left out of ``found`` by the query."""
    for entity_id in ids:
        if entity_id not in found:
            raise not_found(resource, entity_id)
    return [found[entity_id] for entity_id in ids]


def list_teams(
    session: Session, *, actor: Principal, organization_id: str | None, page: OffsetPage
) -> list[TeamView]:
    organizations = organization_filter(actor, organization_id)
    teams = session.scalars(
        select(Team)
        .where(Team.organization_id.in_(organizations))
        .order_by(Team.name, Team.id)
        .limit(page.limit)
        .offset(page.offset)
    ).all()
    return with_members(session, teams)


def with_members(session: Session, teams: Sequence[Team]) -> list[TeamView]:
    """Members of many teams in one query, in their stored order."""
    if not teams:
        return []
    members: dict[str, dict[str, list[str]]] = {t.id: {ACTIVE: [], OBSERVER: []} for t in teams}
    rows = session.execute(
        select(TeamMember.team_id, TeamMember.user_id, TeamMember.role)
        .where(TeamMember.team_id.in_(members))
        .order_by(TeamMember.position, TeamMember.user_id)
    )
    for team_id, user_id, role in rows:
        members[team_id].setdefault(role, []).append(user_id)
    return [TeamView(t, members[t.id][ACTIVE], members[t.id][OBSERVER]) for t in teams]


def require_team_in_organization(session: Session, organization_id: str, team_id: str) -> str:
    """A team of another organization is an unknown team (404)."""
    found = session.scalar(
        select(Team.id).where(Team.id == team_id, Team.organization_id == organization_id)
    )
    if found is None:
        raise not_found("Team", team_id)
    return found


def create_teams(
    session: Session, *, actor: Principal, items: Sequence[TeamIn], now: int
) -> list[TeamView]:
    """All or nothing: the first invalid item raises and the request rolls back."""
    views = [_create_team(session, actor=actor, item=item, now=now) for item in items]
    session.flush()
    return views


def _create_team(session: Session, *, actor: Principal, item: TeamIn, now: int) -> TeamView:
    organization_id = require_admin(actor, item.organization)
    active, observers = _checked_members(
        session, organization_id, item.active_members or [], item.observers or []
    )
    settings = item.model_dump(include=set(TEAM_SETTINGS), exclude_none=True)
    team = Team(id=new_id(), organization_id=organization_id, created_at=now, **settings)
    session.add(team)
    _add_members(session, team.id, active, observers)
    return TeamView(team, active, observers)


def update_teams(
    session: Session, *, actor: Principal, team_ids: Sequence[str], items: Sequence[TeamPatch]
) -> list[TeamView]:
    patches = match_path_ids(team_ids, items, key="teams")
    teams = _visible_teams(session, actor, team_ids)
    for team in teams:
        require_admin(actor, team.organization_id)
    views = [
        _update_team(session, view, patches[view.team.id]) for view in with_members(session, teams)
    ]
    session.flush()
    return views


def _visible_teams(session: Session, actor: Principal, team_ids: Sequence[str]) -> list[Team]:
    found = {
        team.id: team
        for team in session.scalars(
            select(Team).where(
                Team.id.in_(team_ids), Team.organization_id.in_(actor.organization_ids)
            )
        )
    }
    return in_path_order(found, team_ids, "Team")


def _update_team(session: Session, view: TeamView, patch: TeamPatch) -> TeamView:
    team = view.team
    given = patch.model_fields_set
    for field, value in patch.model_dump(include=set(TEAM_SETTINGS & given)).items():
        setattr(team, field, value)
    if patch.active_members is None and patch.observers is None:
        return view
    active, observers = _checked_members(
        session,
        team.organization_id,
        view.active_members if patch.active_members is None else patch.active_members,
        view.observers if patch.observers is None else patch.observers,
    )
    # Lists given are replaced as a whole (spec 2.12.3), so the stored positions start over.
    session.execute(delete(TeamMember).where(TeamMember.team_id == team.id))
    _add_members(session, team.id, active, observers)
    return TeamView(team, active, observers)


def _checked_members(
    session: Session, organization_id: str, active: Sequence[str], observers: Sequence[str]
) -> tuple[list[str], list[str]]:
    """Both lists must name members of the organization (else 404), and nobody twice."""
    active, observers = list(dict.fromkeys(active)), list(dict.fromkeys(observers))
    require_users_in_organization(session, organization_id, [*active, *observers])
    both = set(active).intersection(observers)
    if both:
        user_id = next(u for u in active if u in both)
        raise BadRequest(
            f"User with id '{user_id}' cannot be both an active member and an observer"
        )
    return active, observers


def _add_members(session: Session, team_id: str, active: list[str], observers: list[str]) -> None:
    session.add_all(
        [
            *(
                TeamMember(team_id=team_id, user_id=u, role=ACTIVE, position=i)
                for i, u in enumerate(active)
            ),
            *(
                TeamMember(team_id=team_id, user_id=u, role=OBSERVER, position=i)
                for i, u in enumerate(observers)
            ),
        ]
    )
