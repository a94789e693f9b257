"""Conversations: creating, finding (through merges) and listing mailboxes (spec 2.5)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Exists, Select, and_, bindparam, exists, select
from sqlalchemy.orm import Session

from missive_server.auth import Principal
from missive_server.db.models import (
    Conversation,
    ConversationAddress,
    ConversationLabel,
    ConversationUser,
    Message,
    SharedLabel,
    Team,
)
from missive_server.db.paging import cursor_rows
from missive_server.db.statements import by_ids
from missive_server.errors import BadRequest, not_found
from missive_server.ids import new_id
from missive_server.pagination import CursorPage
from missive_server.schemas.conversations import ConversationRow
from missive_server.services.contacts.contact_groups import group_addresses, require_group
from missive_server.services.conversations import search_terms
from missive_server.services.directory.organizations import require_member

#: Merges can chain (a into b, b into c); a guard against a corrupt cycle.
MAX_MERGE_HOPS = 32


@dataclass(frozen=True, slots=True)
class MailboxFilters:
    """The query of ``GET /v1/conversations``: mailboxes are ANDed together."""

    inbox: bool = False
    all: bool = False
    assigned: bool = False
    closed: bool = False
    snoozed: bool = False
    flagged: bool = False
    trashed: bool = False
    junked: bool = False
    drafts: bool = False
    shared_label: str | None = None
    team_inbox: str | None = None
    team_closed: str | None = None
    team_all: str | None = None
    organization: str | None = None
    email: str | None = None
    domain: str | None = None
    contact_organization: str | None = None

    def has_mailbox(self) -> bool:
        flags = (self.inbox, self.all, self.assigned, self.closed, self.snoozed, self.flagged)
        more = (self.trashed, self.junked, self.drafts)
        views = (self.shared_label, self.team_inbox, self.team_closed, self.team_all)
        return any(flags) or any(more) or any(v is not None for v in views)


def create_conversation(
    session: Session,
    *,
    now: int,
    organization_id: str | None = None,
    team_id: str | None = None,
    account_id: str | None = None,
    subject: str | None = None,
    color: str | None = None,
    conversation_id: str | None = None,
) -> Conversation:
    conversation = Conversation(
        id=conversation_id or new_id(),
        organization_id=organization_id,
        team_id=team_id,
        team_state="inbox" if team_id else "none",
        account_id=account_id,
        subject=subject,
        color=color,
        created_at=now,
        last_activity_at=now,
        messages_count=0,
        attachments_count=0,
        drafts_count=0,
        send_later_messages_count=0,
        tasks_count=0,
        completed_tasks_count=0,
        authors=[],
    )
    session.add(conversation)
    session.flush()
    search_terms.index_subject(session, conversation)
    return conversation


def resolve_merges(session: Session, conversation: Conversation | None) -> Conversation | None:
    hops = 0
    while conversation is not None and conversation.merged_into_id and hops < MAX_MERGE_HOPS:
        conversation = session.get(Conversation, conversation.merged_into_id)
        hops += 1
    return conversation


# Statements built once, run with bound parameters: on every conversation request, and building
# a statement and its cache key per call cost as much as executing it (docs/architecture.md,
# "Performance notes"). Access is a correlated EXISTS in the same statement as the row, so
# finding a conversation the caller may see is one round trip, not two (issue 13).
_VISIBLE_TO_USER = (
    exists()
    .where(
        ConversationUser.conversation_id == Conversation.id,
        ConversationUser.user_id == bindparam("user_id"),
    )
    .label("visible")
)
_ENTITY = select(Conversation, _VISIBLE_TO_USER).where(Conversation.id == bindparam("id"))
_COLUMNS = [Conversation.__table__.c[name] for name in ConversationRow._fields]
_ROWS = by_ids(Conversation.id, lambda where: select(*_COLUMNS).where(where))
_VISIBLE_ROWS = by_ids(
    Conversation.id, lambda where: select(*_COLUMNS, _VISIBLE_TO_USER).where(where)
)
_HAS_ACCESS = select(ConversationUser.user_id).where(
    ConversationUser.conversation_id == bindparam("conversation_id"),
    ConversationUser.user_id == bindparam("user_id"),
)


def get_visible_conversation(
    session: Session, *, actor: Principal, conversation_id: str
) -> Conversation:
    """The conversation (or the survivor it was merged into) if the caller has access, else
    404: the entity, for writes. Reads take :func:`read_visible_conversation`."""
    found = session.execute(_ENTITY, {"id": conversation_id, "user_id": actor.user_id}).first()
    conversation, visible = found if found is not None else (None, False)
    if conversation is not None and conversation.merged_into_id:
        conversation = resolve_merges(session, conversation)
        visible = conversation is not None and has_access(
            session, actor=actor, conversation_id=conversation.id
        )
    if conversation is None or not visible:
        raise not_found("Conversation", conversation_id)
    return conversation


def read_visible_conversation(
    session: Session, *, actor: Principal, conversation_id: str
) -> ConversationRow:
    """What :func:`get_visible_conversation` finds, as a row read through Core: loading an ORM
    entity cost a conversation read three times the statement (bench/README.md, issue 13).
    Core does not autoflush, so a session's pending writes are not seen: for reads only."""
    row = visible_conversation_rows(session, actor, {conversation_id}).get(conversation_id)
    if row is None:
        raise not_found("Conversation", conversation_id)
    return row


def conversation_rows(session: Session, ids: Sequence[str]) -> dict[str, ConversationRow]:
    """Conversations by id, as rows (see :func:`read_visible_conversation`)."""
    if not ids:
        return {}
    rows = _ROWS.run(session.connection(), set(ids))
    return {row[0]: ConversationRow._make(row) for row in rows}


def _resolve_row(session: Session, row: ConversationRow | None) -> ConversationRow | None:
    hops = 0
    while row is not None and row.merged_into_id and hops < MAX_MERGE_HOPS:
        row = conversation_rows(session, [row.merged_into_id]).get(row.merged_into_id)
        hops += 1
    return row


def visible_conversation_rows(
    session: Session, actor: Principal, conversation_ids: set[str]
) -> dict[str, ConversationRow]:
    """Each id -> the conversation to show for it (merges resolved), if the caller has access:
    one statement, plus a few for any id that was merged into another (rare)."""
    if not conversation_ids:
        return {}
    params = {"user_id": actor.user_id}
    shown: dict[str, ConversationRow] = {}
    for *columns, visible in _VISIBLE_ROWS.run(session.connection(), conversation_ids, params):
        row = ConversationRow._make(columns)
        if not row.merged_into_id:
            if visible:
                shown[row.id] = row
            continue
        survivor = _resolve_row(session, row)
        if survivor is not None and has_access(session, actor=actor, conversation_id=survivor.id):
            shown[row.id] = survivor
    return shown


def has_access(session: Session, *, actor: Principal, conversation_id: str) -> bool:
    params = {"conversation_id": conversation_id, "user_id": actor.user_id}
    return session.connection().execute(_HAS_ACCESS, params).first() is not None


def list_conversations(
    session: Session, *, actor: Principal, filters: MailboxFilters, page: CursorPage
) -> list[ConversationRow]:
    if not filters.has_mailbox():
        raise BadRequest("You need to paginate at least one mailbox")
    contact_filters = (filters.email, filters.domain, filters.contact_organization)
    if sum(f is not None for f in contact_filters) > 1:
        raise BadRequest("'email', 'domain' and 'contact_organization' cannot be combined")
    stmt = _mailbox_query(session, actor, filters)
    rows = cursor_rows(
        session,
        stmt,
        timestamp=ConversationUser.last_activity_at,
        tiebreak=ConversationUser.conversation_id,
        page=page,
    )
    ids = [row[0] for row in rows]
    found = conversation_rows(session, ids)
    return [found[i] for i in ids]


def _mailbox_query(session: Session, actor: Principal, f: MailboxFilters) -> Select[str, int]:
    cu = ConversationUser
    stmt = select(cu.conversation_id, cu.last_activity_at).where(cu.user_id == actor.user_id)
    location = {
        "inbox": f.inbox,
        "closed": f.closed,
        "snoozed": f.snoozed,
        "trashed": f.trashed,
        "junked": f.junked,
    }
    for name, wanted in location.items():
        if wanted:
            stmt = stmt.where(cu.location == name)
    if f.all:
        stmt = stmt.where(cu.location.not_in(("trashed", "junked")))
    if f.assigned:
        stmt = stmt.where(cu.assigned.is_(True))
    if f.flagged:
        stmt = stmt.where(cu.flagged.is_(True))
    if f.drafts:
        stmt = stmt.where(
            exists().where(
                Message.conversation_id == cu.conversation_id,
                Message.draft.is_(True),
                Message.author_id == actor.user_id,
            )
        )
    stmt = _view_filters(session, actor, f, stmt)
    if f.email is not None:
        stmt = stmt.where(_address_match(ConversationAddress.address == f.email.strip().lower()))
    if f.domain is not None:
        stmt = stmt.where(
            _address_match(ConversationAddress.domain == f.domain.strip().lower().lstrip("@"))
        )
    if f.contact_organization is not None:
        group = require_group(session, actor, f.contact_organization)
        stmt = stmt.where(_address_match(ConversationAddress.address.in_(group_addresses(group))))
    return stmt


def _view_filters(
    session: Session, actor: Principal, f: MailboxFilters, stmt: Select[str, int]
) -> Select[str, int]:
    cu = ConversationUser
    if f.shared_label is not None:
        label = session.get(SharedLabel, f.shared_label)
        if label is None or not actor.is_member(label.organization_id):
            raise not_found("Shared label", f.shared_label)
        stmt = stmt.where(
            exists().where(
                ConversationLabel.conversation_id == cu.conversation_id,
                ConversationLabel.shared_label_id == label.id,
            )
        )
    team_views = {"inbox": f.team_inbox, "closed": f.team_closed, "all": f.team_all}
    for state, team_id in team_views.items():
        if team_id is None:
            continue
        team = session.get(Team, team_id)
        if team is None or not actor.is_member(team.organization_id):
            raise not_found("Team", team_id)
        condition = Conversation.team_id == team.id
        if state != "all":
            condition = and_(condition, Conversation.team_state == state)
        stmt = stmt.where(exists().where(Conversation.id == cu.conversation_id, condition))
    views_given = f.shared_label is not None or any(v is not None for v in team_views.values())
    if f.organization is not None and not views_given:
        # Spec 2.5.1: `organization` has no effect together with shared_label / team_* views.
        require_member(actor, f.organization)
        stmt = stmt.where(
            exists().where(
                Conversation.id == cu.conversation_id,
                Conversation.organization_id == f.organization,
            )
        )
    return stmt


def _address_match(condition: ColumnElement[bool]) -> Exists:
    return exists().where(
        ConversationAddress.conversation_id == ConversationUser.conversation_id, condition
    )
