"""The SQL of analytics reports: a handful of GROUP BY queries over the period's activity.

Everything starts from the scoped conversations (``scoped_conversations``) and one UNION ALL of
the period's events (``period_events``: conversations created, messages received and sent,
comments, posts), so every figure applies the same filters. Both are materialized once per
report into temporary tables (``analytics_materialized``); each breakdown is then one aggregate
query over them whose columns pivot the event kinds. No query runs per conversation.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Integer,
    Select,
    SQLColumnExpression,
    String,
    Subquery,
    case,
    cast,
    distinct,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import Label
from sqlalchemy.sql.expression import FromClause

from missive_server.db.models import (
    Account,
    Comment,
    Conversation,
    ConversationLabel,
    ConversationUser,
    Message,
    Post,
)
from missive_server.services.analytics._figures import DAY, DAY_NUMBER_SHIFT, OffsetSegment

#: Event kinds, in the order of the tally columns.
KINDS = ("created", "received", "sent", "comment", "post")


@dataclass(frozen=True, slots=True)
class Scope:
    organization_id: str
    start: int
    end: int
    teams: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    shared_labels: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    account_types: tuple[str, ...] = ()

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Scope:
        filters = params["filters"]
        return cls(
            params["organization"],
            params["start"],
            params["end"],
            **{name: tuple(filters[name]) for name in cls._filter_names()},
        )

    @staticmethod
    def _filter_names() -> tuple[str, ...]:
        return ("teams", "users", "shared_labels", "accounts", "account_types")


#: A select of any columns (``Select`` is variadic in its row type).
AnySelect = Select[*tuple[Any, ...]]
#: A ``Message`` or an alias of it.
MessageLike = Any


def message_conditions(scope: Scope, message: MessageLike) -> list[ColumnElement[bool]]:
    """Sent (not draft) messages of the ``accounts`` / ``account_types`` filters."""
    conditions: list[ColumnElement[bool]] = [message.draft.is_(False)]
    if scope.accounts:
        conditions.append(message.account_id.in_(scope.accounts))
    if scope.account_types:
        typed = select(Account.id).where(Account.type.in_(scope.account_types))
        conditions.append(message.account_id.in_(typed))
    return conditions


def by_users(scope: Scope, author: SQLColumnExpression[Any]) -> list[ColumnElement[bool]]:
    return [author.in_(scope.users)] if scope.users else []


def scoped_conversations(scope: Scope) -> AnySelect:
    """The organization's conversations that pass the conversation filters (see
    docs/compatibility.md). Activity moves ``last_activity_at`` forward (services.
    conversation_state.touch), so conversations idle since before ``start`` have nothing in the
    period: the organization's ``last_activity_at`` index prunes them. Closing through PATCH is
    silent (no activity), so conversations closed since ``start`` are kept through the
    ``closed_at`` index (an index OR on both databases)."""
    stmt = select(
        Conversation.id.label("id"),
        Conversation.team_id.label("team_id"),
        Conversation.created_at.label("created_at"),
        Conversation.closed_at.label("closed_at"),
    ).where(
        Conversation.organization_id == scope.organization_id,
        Conversation.merged_into_id.is_(None),
        or_(Conversation.last_activity_at >= scope.start, Conversation.closed_at >= scope.start),
    )
    if scope.teams:
        stmt = stmt.where(Conversation.team_id.in_(scope.teams))
    if scope.shared_labels:
        labelled = select(ConversationLabel.conversation_id).where(
            ConversationLabel.shared_label_id.in_(scope.shared_labels)
        )
        stmt = stmt.where(Conversation.id.in_(labelled))
    if scope.users:
        shared = select(ConversationUser.conversation_id).where(
            ConversationUser.user_id.in_(scope.users)
        )
        stmt = stmt.where(Conversation.id.in_(shared))
    if scope.accounts or scope.account_types:
        through = select(Message.conversation_id).where(*message_conditions(scope, Message))
        stmt = stmt.where(Conversation.id.in_(through))
    return stmt


def period_events(scope: Scope, scoped: FromClause) -> CompoundSelect[*tuple[Any, ...]]:
    """One row per event of the period: ``cid, team_id, at, kind, user_id, account_type``."""
    no_user, no_type = cast(null(), String), cast(null(), String)
    messages = (
        select(
            Message.conversation_id.label("cid"),
            scoped.c.team_id.label("team_id"),
            Message.delivered_at.label("at"),
            case((Message.author_id.is_(None), "received"), else_="sent").label("kind"),
            Message.author_id.label("user_id"),
            Account.type.label("account_type"),
        )
        .join(scoped, scoped.c.id == Message.conversation_id)
        .outerjoin(Account, Account.id == Message.account_id)
        .where(*message_conditions(scope, Message), *_within(scope, Message.delivered_at))
    )
    if scope.users:  # received messages count in the users' conversations; sent ones by them
        messages = messages.where(Message.author_id.is_(None) | Message.author_id.in_(scope.users))
    comments = (
        select(Comment.conversation_id, scoped.c.team_id, Comment.created_at)
        .add_columns(literal("comment"), Comment.author_id, no_type)
        .join(scoped, scoped.c.id == Comment.conversation_id)
        .where(*_within(scope, Comment.created_at), *by_users(scope, Comment.author_id))
    )
    posts = (
        select(Post.conversation_id, scoped.c.team_id, Post.created_at)
        .add_columns(literal("post"), Post.author_id, no_type)
        .join(scoped, scoped.c.id == Post.conversation_id)
        .where(*_within(scope, Post.created_at))
    )
    created = (
        select(Conversation.id, scoped.c.team_id, Conversation.created_at)
        .add_columns(literal("created"), no_user, no_type)
        .join(scoped, scoped.c.id == Conversation.id)
        .where(*_within(scope, Conversation.created_at))
    )
    return union_all(messages, comments, posts, created)


def _within(scope: Scope, at: SQLColumnExpression[Any]) -> list[ColumnElement[bool]]:
    """The period is half-open: ``start <= at < end``."""
    return [at >= scope.start, at < scope.end]


def tally_columns(events: FromClause) -> list[Label[int]]:
    """``active`` (distinct conversations with an event other than creation), then one count
    per kind."""
    active = func.count(distinct(case((events.c.kind != "created", events.c.cid))))
    return [active.label("active")] + [
        func.count().filter(events.c.kind == kind).label(kind) for kind in KINDS
    ]


def tally(
    session: Session, events: FromClause, key: ColumnElement[Any] | None = None
) -> dict[Any, dict[str, int]]:
    """Counts per ``key`` (all events under ``None`` without one)."""
    columns = tally_columns(events)
    if key is None:
        stmt: AnySelect = select(literal_column("NULL").label("key"), *columns)
    else:
        stmt = select(key.label("key"), *columns).group_by(key)
    return _rows(session, stmt.select_from(events))


def tally_by_label(session: Session, events: FromClause) -> dict[Any, dict[str, int]]:
    label = ConversationLabel.shared_label_id
    stmt = (
        select(label.label("key"), *tally_columns(events))
        .select_from(events)
        .join(ConversationLabel, ConversationLabel.conversation_id == events.c.cid)
        .group_by(label)
    )
    return _rows(session, stmt)


def _rows(session: Session, stmt: AnySelect) -> dict[Any, dict[str, int]]:
    return {
        row.key: {name: int(getattr(row, name) or 0) for name in ("active", *KINDS)}
        for row in session.execute(stmt)
    }


def local_day_number(
    at: SQLColumnExpression[Any], segments: list[OffsetSegment]
) -> ColumnElement[Any]:
    """``(at + offset) // 86400`` (shifted positive) with the offset in force at ``at``."""

    def day(offset: int) -> ColumnElement[Any]:
        shifted = literal_column(str(offset + DAY_NUMBER_SHIFT * DAY), Integer)
        return (at + shifted) // literal_column(str(DAY), Integer)

    if len(segments) == 1:
        return day(segments[0].offset)
    stretches = [(at < nxt.since, day(seg.offset)) for seg, nxt in pairwise(segments)]
    return case(*stretches, else_=day(segments[-1].offset))


def first_responses(scope: Scope, scoped: FromClause) -> AnySelect:
    """Per conversation whose first incoming message falls in the period: that message's time,
    the first reply by a user at or after it (before ``end``), who replied (the smallest user
    id when two replied in the same second), and its labels (one row per label, or one row
    with ``label_id`` NULL).

    The reply and its author are correlated subqueries, one seek each in the
    ``(conversation_id, draft, delivered_at)`` index per conversation: a range join on
    ``delivered_at >= first incoming`` was planned quadratically by PostgreSQL on freshly
    loaded tables (100 s instead of 0.5 s for a year of 20,000 conversations)."""
    incoming = _first_incoming(scope, scoped)
    reply = aliased(Message)
    reply_at = (
        select(func.min(reply.delivered_at))
        .where(
            *_reply_conditions(scope, reply, incoming.c.cid), reply.delivered_at >= incoming.c.at
        )
        .scalar_subquery()
    )
    firsts = select(incoming.c.cid, incoming.c.at, reply_at.label("reply_at")).subquery("firsts")
    author = aliased(Message)
    responder = (
        select(func.min(author.author_id))
        .where(
            *_reply_conditions(scope, author, firsts.c.cid),
            author.delivered_at == firsts.c.reply_at,
        )
        .scalar_subquery()
    )
    return (
        select(
            firsts.c.cid,
            scoped.c.team_id,
            firsts.c.at,
            firsts.c.reply_at,
            responder.label("responder"),
            ConversationLabel.shared_label_id.label("label_id"),
        )
        .join(scoped, scoped.c.id == firsts.c.cid)
        .outerjoin(ConversationLabel, ConversationLabel.conversation_id == firsts.c.cid)
    )


def _first_incoming(scope: Scope, scoped: FromClause) -> Subquery:
    """Each scoped conversation's first counted incoming message, when it is in the period."""
    first_at = func.min(Message.delivered_at)
    return (
        select(Message.conversation_id.label("cid"), first_at.label("at"))
        .join(scoped, scoped.c.id == Message.conversation_id)
        .where(*message_conditions(scope, Message), Message.author_id.is_(None))
        .group_by(Message.conversation_id)
        .having(first_at >= scope.start, first_at < scope.end)
        .subquery("first_incoming")
    )


def _reply_conditions(
    scope: Scope, reply: MessageLike, cid: ColumnElement[str]
) -> list[ColumnElement[bool]]:
    return [
        reply.conversation_id == cid,
        reply.author_id.is_not(None),
        reply.delivered_at < scope.end,
        *message_conditions(scope, reply),
        *by_users(scope, reply.author_id),
    ]


def resolutions(scope: Scope, scoped: FromClause, segments: list[OffsetSegment]) -> AnySelect:
    """The scoped conversations closed in the period and still closed (reopening clears
    ``closed_at``): how long they took from creation, the local day number of the close, and
    their labels (one row per label, or one row with ``label_id`` NULL)."""
    return (
        select(
            scoped.c.id.label("cid"),
            scoped.c.team_id.label("team_id"),
            (scoped.c.closed_at - scoped.c.created_at).label("took"),
            local_day_number(scoped.c.closed_at, segments).label("day"),
            ConversationLabel.shared_label_id.label("label_id"),
        )
        .select_from(scoped)
        .outerjoin(ConversationLabel, ConversationLabel.conversation_id == scoped.c.id)
        .where(*_within(scope, scoped.c.closed_at))
    )
