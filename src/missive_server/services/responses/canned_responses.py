"""Canned responses (Missive's ``responses``, spec 2.9): who sees them, the owner and sharing
rules, external ids, and their files (inline images included).

Visibility: personal responses only to their owner; organization responses to the members of
the organization, narrowed to the team's members when ``share_with_team`` is set (the creator
and the organization's admins and owners keep seeing them, so they can manage them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, delete, or_, select
from sqlalchemy.orm import Session

from missive_server.auth import Principal
from missive_server.db.models import (
    CannedResponse,
    CannedResponseLabel,
    SharedLabel,
    TeamMember,
)
from missive_server.errors import BadRequest, Forbidden, not_found
from missive_server.ids import new_id
from missive_server.pagination import OffsetPage
from missive_server.schemas.canned_responses import (
    ResponseFields,
    ResponseIn,
    ResponsePatch,
    ResponseView,
    recipients_of,
)
from missive_server.services.directory import shared_labels
from missive_server.services.directory.organizations import require_member
from missive_server.services.directory.teams import (
    in_path_order,
    match_path_ids,
    require_team_in_organization,
)
from missive_server.services.responses.canned_response_files import (
    attach_files,
    delete_files,
    files_of,
)

RESOURCE = "Response"


def visible(actor: Principal) -> ColumnElement[bool]:
    admin_of = [o for o in actor.organization_ids if actor.is_admin(o)]
    my_teams = select(TeamMember.team_id).where(TeamMember.user_id == actor.user_id)
    return or_(
        CannedResponse.user_id == actor.user_id,
        and_(
            CannedResponse.organization_id.in_(actor.organization_ids),
            or_(
                CannedResponse.share_with_team_id.is_(None),
                CannedResponse.share_with_team_id.in_(my_teams),
                CannedResponse.organization_id.in_(admin_of),
                CannedResponse.created_by_id == actor.user_id,
            ),
        ),
    )


def list_responses(
    session: Session, *, actor: Principal, organization_id: str | None, page: OffsetPage
) -> list[ResponseView]:
    """Oldest first (then by id): a page never shifts when responses are added."""
    query = select(CannedResponse).where(visible(actor))
    if organization_id is not None:
        query = query.where(
            CannedResponse.organization_id == require_member(actor, organization_id)
        )
    responses = session.scalars(
        query.order_by(CannedResponse.created_at, CannedResponse.id)
        .limit(page.limit)
        .offset(page.offset)
    ).all()
    return response_views(session, responses)


def get_responses(
    session: Session, *, actor: Principal, response_ids: Sequence[str]
) -> list[ResponseView]:
    return response_views(session, _visible_responses(session, actor, response_ids))


def response_views(session: Session, responses: Sequence[CannedResponse]) -> list[ResponseView]:
    """Labels and files of a whole page in two queries."""
    ids = [r.id for r in responses]
    labels: dict[str, list[str]] = {response_id: [] for response_id in ids}
    if ids:
        rows = session.execute(
            select(CannedResponseLabel.response_id, CannedResponseLabel.shared_label_id)
            .where(CannedResponseLabel.response_id.in_(ids))
            .order_by(CannedResponseLabel.shared_label_id)
        )
        for response_id, label_id in rows:
            labels[response_id].append(label_id)
    files = files_of(session, ids)
    return [ResponseView(r, labels[r.id], files.get(r.id, [])) for r in responses]


def create_responses(
    session: Session, *, actor: Principal, items: Sequence[ResponseIn], now: int
) -> list[ResponseView]:
    """All or nothing: the first invalid item raises and the request rolls back."""
    done: list[tuple[str, CannedResponse]] = []
    for i, item in enumerate(items):
        path = f"responses[{i}]"
        response, labels = _new_response(session, actor, item, path=path, now=now)
        done.append((path, response))
        # Earlier items of the batch are flushed already, so the query sees them too.
        _check_external_ids(session, [(path, response)])
        # No ORM relationships order the inserts: the parent row goes first.
        session.add(response)
        session.flush()
        _write_children(session, response, labels, item, current_labels=None, now=now)
    session.flush()
    return response_views(session, [r for _, r in done])


def _new_response(
    session: Session, actor: Principal, item: ResponseIn, *, path: str, now: int
) -> tuple[CannedResponse, list[str] | None]:
    organization_id, user_id = _owner(actor, item, path)
    response = CannedResponse(
        id=new_id(),
        organization_id=organization_id,
        user_id=user_id,
        title=item.title,
        subject=item.subject,
        body=item.body,
        to_fields=[],
        cc_fields=[],
        bcc_fields=[],
        external_id=item.external_id,
        external_source=item.external_source,
        created_by_id=actor.user_id,
        created_at=now,
        modified_at=now,
    )
    return response, _apply_common(session, actor, response, item, path=path)


def _write_children(
    session: Session,
    response: CannedResponse,
    labels: list[str] | None,
    item: ResponseFields,
    *,
    current_labels: list[str] | None,
    now: int,
) -> None:
    """Label links and files, once the response row exists; given lists replace the old ones.
    ``current_labels`` is ``None`` for a new response (nothing to replace)."""
    if labels is not None:
        if current_labels:
            session.execute(
                delete(CannedResponseLabel).where(CannedResponseLabel.response_id == response.id)
            )
        session.add_all(
            CannedResponseLabel(response_id=response.id, shared_label_id=label_id)
            for label_id in labels
        )
    if item.attachments is not None:
        if current_labels is not None:
            delete_files(session, [response.id])
        response.body = attach_files(session, response, item.attachments, now=now)


def _owner(actor: Principal, item: ResponseIn, path: str) -> tuple[str | None, str | None]:
    """``(organization_id, user_id)``: exactly one is set, and a personal response is always
    the caller's own (any other user id is refused without saying whether it exists)."""
    if (item.organization is None) == (item.user is None):
        raise BadRequest(f"'{path}' must have exactly one of 'organization' or 'user'")
    if item.organization is not None:
        return require_member(actor, item.organization), None
    if (item.user or "").strip().lower() != actor.user_id:
        raise Forbidden(
            f"'{path}.user' must be your own user id: personal responses belong to the token's user"
        )
    return None, actor.user_id


def _apply_common(
    session: Session,
    actor: Principal,
    response: CannedResponse,
    item: ResponseFields,
    *,
    path: str,
) -> list[str] | None:
    """What create and update share: sharing, recipients, and the rules across fields.
    Returns the checked ``shared_labels`` to store, ``None`` when they stay as they are."""
    given = item.model_fields_set
    organization_id = response.organization_id
    for name in ("share_with_team", "shared_labels"):
        if organization_id is None and getattr(item, name):
            raise BadRequest(f"'{path}.{name}' requires 'organization'")
    if "share_with_team" in given:
        team_id = item.share_with_team
        response.share_with_team_id = (
            None
            if team_id is None or organization_id is None
            else require_team_in_organization(session, organization_id, team_id)
        )
    for name, participants in recipients_of(item, path).items():
        setattr(response, name, participants)
    if not (response.title or response.body):
        raise BadRequest(f"'{path}' must have a 'title' or a 'body'")
    if response.external_id is not None and response.external_source is None:
        raise BadRequest(f"'{path}.external_id' requires 'external_source'")
    if item.shared_labels is None or organization_id is None:
        return None
    return _checked_labels(session, actor, organization_id, item.shared_labels)


def _checked_labels(
    session: Session, actor: Principal, organization_id: str, wanted: list[str]
) -> list[str]:
    """Labels of the response's organization the caller can see; any other id is unknown."""
    wanted = list(dict.fromkeys(w.strip().lower() for w in wanted))
    found = set(
        session.scalars(
            select(SharedLabel.id).where(
                SharedLabel.id.in_(wanted),
                SharedLabel.organization_id == organization_id,
                shared_labels.accessible(actor),
            )
        )
    )
    for label_id in wanted:
        if label_id not in found:
            raise not_found(shared_labels.RESOURCE, label_id)
    return wanted


def update_responses(
    session: Session,
    *,
    actor: Principal,
    response_ids: Sequence[str],
    items: Sequence[ResponsePatch],
    now: int,
) -> list[ResponseView]:
    patches = match_path_ids(response_ids, items, key="responses")
    responses = _visible_responses(session, actor, response_ids)
    _refuse_integration(responses, "updated")
    paths = {item.id.strip().lower(): f"responses[{i}]" for i, item in enumerate(items)}
    views = response_views(session, responses)
    before = {r.id: (r.external_source, r.external_id) for r in responses}
    labels = [
        _update_response(session, actor, v.response, patches[v.response.id], paths[v.response.id])
        for v in views
    ]
    _check_external_ids(session, [(paths[r.id], r) for r in responses])
    _swap_safely(
        session, [r for r in responses if before[r.id] != (r.external_source, r.external_id)]
    )
    for view, wanted in zip(views, labels, strict=True):
        response = view.response
        response.modified_at = now
        _write_children(
            session,
            response,
            wanted,
            patches[response.id],
            current_labels=view.shared_labels,
            now=now,
        )
    session.flush()
    return response_views(session, responses)


def _update_response(
    session: Session,
    actor: Principal,
    response: CannedResponse,
    patch: ResponsePatch,
    path: str,
) -> list[str] | None:
    given = patch.model_fields_set
    for name, current in (("organization", response.organization_id), ("user", response.user_id)):
        value = getattr(patch, name)
        if name in given and (value or "").strip().lower() != (current or ""):
            raise BadRequest(f"'{path}.{name}' cannot be changed")
    for name in ("title", "subject", "body", "external_id", "external_source"):
        if name in given:
            setattr(response, name, getattr(patch, name))
    return _apply_common(session, actor, response, patch, path=path)


def delete_responses(session: Session, *, actor: Principal, response_ids: Sequence[str]) -> None:
    responses = _visible_responses(session, actor, response_ids)
    _refuse_integration(responses, "deleted")
    delete_files(session, [r.id for r in responses])
    session.execute(delete(CannedResponse).where(CannedResponse.id.in_([r.id for r in responses])))


def _visible_responses(
    session: Session, actor: Principal, response_ids: Sequence[str]
) -> list[CannedResponse]:
    found = {
        r.id: r
        for r in session.scalars(
            select(CannedResponse).where(CannedResponse.id.in_(response_ids), visible(actor))
        )
    }
    return in_path_order(found, response_ids, RESOURCE)


def _refuse_integration(responses: Sequence[CannedResponse], verb: str) -> None:
    """Integration templates (e.g. WhatsApp's) are owned by the integration (spec 2.9.4)."""
    for r in responses:
        if r.integration is not None:
            raise BadRequest(
                f"Response with id '{r.id}' was created by an integration ({r.integration})"
                f" and cannot be {verb}"
            )


@dataclass(frozen=True, slots=True)
class _ExternalKey:
    organization_id: str | None
    user_id: str | None
    source: str
    external_id: str


def _check_external_ids(session: Session, entries: Sequence[tuple[str, CannedResponse]]) -> None:
    """(``external_source``, ``external_id``) is unique per organization or user (spec 2.9.3):
    within the batch, and against stored responses outside it, in one query. A unique index
    backs this; checking first gives a clear 400 instead of a failed flush."""
    keyed: dict[_ExternalKey, str] = {}
    for path, r in entries:
        if r.external_id is None or r.external_source is None:
            continue
        key = _ExternalKey(r.organization_id, r.user_id, r.external_source, r.external_id)
        if key in keyed:
            raise _taken(path, key)
        keyed[key] = path
    if not keyed:
        return
    batch = [r.id for _, r in entries]
    taken = session.scalars(
        select(CannedResponse).where(
            CannedResponse.id.not_in(batch),
            or_(*(_key_condition(key) for key in keyed)),
        )
    ).first()
    if taken is not None:
        key = _ExternalKey(
            taken.organization_id,
            taken.user_id,
            taken.external_source or "",
            taken.external_id or "",
        )
        raise _taken(keyed[key], key)


def _swap_safely(session: Session, changed: Sequence[CannedResponse]) -> None:
    """Unique indexes are checked row by row, so two responses trading external ids would
    collide halfway through the flush: clear the changed ids first, then write them."""
    if len(changed) < 2:
        return
    final = [(r, r.external_id) for r in changed]
    for r in changed:
        r.external_id = None
    session.flush()
    for r, external_id in final:
        r.external_id = external_id


def _key_condition(key: _ExternalKey) -> ColumnElement[bool]:
    owner = (
        CannedResponse.organization_id == key.organization_id
        if key.organization_id is not None
        else CannedResponse.user_id == key.user_id
    )
    return and_(
        owner,
        CannedResponse.external_source == key.source,
        CannedResponse.external_id == key.external_id,
    )


def _taken(path: str, key: _ExternalKey) -> BadRequest:
    owner = "organization" if key.organization_id is not None else "user"
    return BadRequest(
        f"'{path}.external_id' '{key.external_id}' is already used by another response of"
        f" this {owner} with external_source '{key.source}'"
    )
