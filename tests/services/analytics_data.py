"""Realistic analytics data, written as rows, and the report's figures recomputed in plain Python.

``build_dataset`` writes hundreds of conversations (teams, labels, users with access, accounts
of several types, incoming and outgoing messages, drafts, comments, posts, closes and reopens)
and returns the same facts as Python objects; ``Expected`` derives every figure from those
objects with ``zoneinfo`` and ``statistics`` only, independently of the SQL under test.
"""

from __future__ import annotations

import random
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from missive_server.db.models import (
    Account,
    Comment,
    Conversation,
    ConversationLabel,
    ConversationUser,
    Message,
    Organization,
    Post,
    SharedLabel,
    Team,
    User,
)
from missive_server.ids import new_id

ACCOUNT_TYPES = ("custom", "email", "instagram", "live_chat", "messenger", "sms", "whatsapp")
KINDS = ("created", "received", "sent", "comment", "post")


@dataclass
class Msg:
    at: int
    author: str | None  # None: incoming
    account: str | None
    draft: bool = False


@dataclass
class Conv:
    id: str
    created_at: int
    team: str | None
    labels: list[str]
    users: list[str]
    messages: list[Msg] = field(default_factory=list)
    comments: list[tuple[int, str]] = field(default_factory=list)
    posts: list[int] = field(default_factory=list)
    #: When it was closed for everyone, if it still is (a reopen clears it, as the service does).
    closed_at: int | None = None
    reopened: bool = False


@dataclass
class Dataset:
    org: Organization
    users: list[User]
    teams: list[Team]
    labels: list[SharedLabel]
    accounts: dict[str, str]  # account id -> type
    conversations: list[Conv]


def account_row(org: Organization, kind: str, now: int) -> Account:
    return Account(
        id=new_id(), type=kind, name=f"{kind} inbox", organization_id=org.id, created_at=now
    )


def build_dataset(
    session: Session,
    *,
    org: Organization,
    users: list[User],
    teams: list[Team],
    labels: list[SharedLabel],
    start: int,
    end: int,
    conversations: int = 300,
    seed: int = 4,
) -> Dataset:
    """Conversations created from two days before ``start`` to a day after ``end``, each with
    a first incoming message at creation and then a random exchange over up to two days."""
    rng, closer = random.Random(seed), random.Random(seed + 1_000)
    accounts = {a.id: a.type for a in (account_row(org, t, start) for t in ACCOUNT_TYPES)}
    session.add_all(
        Account(id=i, type=t, name=t, organization_id=org.id, created_at=start)
        for i, t in accounts.items()
    )
    convs = [
        _conversation(rng, users, teams, labels, list(accounts), start, end)
        for _ in range(conversations)
    ]
    for conv in convs:
        _close(closer, conv, list(accounts))
    rows = [_rows(org, conv) for conv in convs]
    session.add_all(conversation for conversation, _ in rows)
    session.flush()
    for _, others in rows:
        session.add_all(others)
    session.commit()
    return Dataset(org, users, teams, labels, accounts, convs)


def _conversation(
    rng: random.Random,
    users: list[User],
    teams: list[Team],
    labels: list[SharedLabel],
    accounts: list[str],
    start: int,
    end: int,
) -> Conv:
    created = rng.randrange(start - 2 * 86_400, end + 86_400)
    account = rng.choice(accounts)
    conv = Conv(
        id=new_id(),
        created_at=created,
        team=rng.choice([None, *[t.id for t in teams]]),
        labels=[label.id for label in labels if rng.random() < 0.3],
        users=[u.id for u in users if rng.random() < 0.5],
    )
    at = created
    conv.messages.append(Msg(at, None, account))
    for _ in range(rng.randrange(0, 6)):
        at += rng.randrange(60, 12 * 3600)
        outgoing = rng.random() < 0.6
        author = rng.choice(users).id if outgoing else None
        conv.messages.append(Msg(at, author, rng.choice([account, account, *accounts])))
    if rng.random() < 0.2:
        conv.messages.append(Msg(at + 30, rng.choice(users).id, account, draft=True))
    for _ in range(rng.randrange(0, 3)):
        conv.comments.append((created + rng.randrange(0, 86_400), rng.choice(users).id))
    if rng.random() < 0.3:
        conv.posts.append(created + rng.randrange(0, 86_400))
    if rng.random() < 0.05:  # two replies in the same second: the smaller user id responds
        conv.messages.append(Msg(created + 5, users[0].id, account))
        conv.messages.append(Msg(created + 5, users[1].id, account))
    return conv


def _close(rng: random.Random, conv: Conv, accounts: list[str]) -> None:
    """Close half the conversations, as PATCH or a post would: silently (``last_activity_at``
    stays, so some closed in the period were idle since before it) up to two days after their
    last message. Some are reopened afterwards: by a reply (a later incoming message) or by a
    PATCH ``reopen``; either clears ``closed_at``, and a few of those are closed again."""
    if rng.random() < 0.5:
        return
    last = max(m.at for m in conv.messages)
    conv.closed_at = last + rng.randrange(0, 2 * 86_400)
    reopen = rng.random()
    conv.reopened = reopen < 0.3
    if reopen < 0.15:
        conv.messages.append(Msg(conv.closed_at + rng.randrange(60, 86_400), None, accounts[0]))
        conv.closed_at = None
    elif reopen < 0.3:
        conv.closed_at = None
        if reopen < 0.2:  # closed again later: the new close counts
            conv.closed_at = last + rng.randrange(2 * 86_400, 3 * 86_400)


def last_activity(conv: Conv) -> int:
    return max(
        [conv.created_at]
        + [m.at for m in conv.messages]
        + [at for at, _ in conv.comments]
        + conv.posts
    )


def _rows(org: Organization, conv: Conv) -> tuple[Conversation, list[object]]:
    last = last_activity(conv)
    closed = conv.closed_at is not None
    conversation = Conversation(
        id=conv.id,
        organization_id=org.id,
        team_id=conv.team,
        team_state=("closed" if closed else "inbox") if conv.team else "none",
        subject="Hello",
        created_at=conv.created_at,
        last_activity_at=last,
        closed_at=conv.closed_at,
        authors=[],
    )
    rows: list[object] = [
        ConversationUser(
            conversation_id=conv.id,
            user_id=u,
            location="closed" if closed else "inbox",
            added_at=conv.created_at,
            last_activity_at=last,
        )
        for u in conv.users
    ]
    rows += [
        ConversationLabel(
            conversation_id=conv.id,
            shared_label_id=label,
            added_at=conv.created_at,
            last_activity_at=last,
        )
        for label in conv.labels
    ]
    rows += [_message(conv.id, m) for m in conv.messages]
    rows += [
        Comment(id=new_id(), conversation_id=conv.id, author_id=u, body="c", created_at=at)
        for at, u in conv.comments
    ]
    rows += [Post(id=new_id(), conversation_id=conv.id, created_at=at) for at in conv.posts]
    return conversation, rows


def _message(conversation_id: str, m: Msg) -> Message:
    return Message(
        id=new_id(),
        conversation_id=conversation_id,
        account_id=m.account,
        author_id=m.author,
        type="email",
        draft=m.draft,
        subject="Hello",
        body="<p>x</p>",
        from_field={"address": "someone@example.com"},
        delivered_at=None if m.draft else m.at,
        created_at=m.at,
        updated_at=m.at,
    )


# --- The expected report, in plain Python ----------------------------------------------------


#: (conversation, kind, at, user, account type) of one counted event.
Event = tuple[Conv, str, int, "str | None", "str | None"]


@dataclass
class Filters:
    teams: list[str] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    shared_labels: list[str] = field(default_factory=list)
    accounts: list[str] = field(default_factory=list)
    account_types: list[str] = field(default_factory=list)


def stats(values: list[int]) -> dict[str, Any]:
    if not values:
        return {"count": 0, "mean": None, "median": None, "p90": None, "p95": None}
    cuts = statistics.quantiles(values, n=100, method="inclusive") if len(values) > 1 else None
    return {
        "count": len(values),
        "mean": round(statistics.fmean(values), 1),
        "median": round(float(statistics.median(values)), 1),
        "p90": round(cuts[89], 1) if cuts else float(values[0]),
        "p95": round(cuts[94], 1) if cuts else float(values[0]),
    }


class Expected:
    """Every figure of the report for ``data`` over ``[start, end)`` with ``filters``."""

    def __init__(
        self, data: Dataset, start: int, end: int, zone: str, filters: Filters | None = None
    ) -> None:
        self.data, self.start, self.end = data, start, end
        self.zone = ZoneInfo(zone)
        self.f = filters or Filters()
        self.events: list[Event] = []
        self.waits: list[tuple[Conv, int, str]] = []
        self.unanswered = 0
        #: (conversation, seconds from creation to close) of those resolved in the period.
        self.resolved: list[tuple[Conv, int]] = []
        for conv in data.conversations:
            if self._in_scope(conv):
                self._collect(conv)

    def _account_ok(self, m: Msg) -> bool:
        kind = self.data.accounts.get(m.account) if m.account else None
        if self.f.accounts and m.account not in self.f.accounts:
            return False
        return not (self.f.account_types and kind not in self.f.account_types)

    def _in_scope(self, conv: Conv) -> bool:
        if self.f.teams and conv.team not in self.f.teams:
            return False
        if self.f.shared_labels and not set(conv.labels) & set(self.f.shared_labels):
            return False
        if self.f.users and not set(conv.users) & set(self.f.users):
            return False
        if self.f.accounts or self.f.account_types:
            return any(not m.draft and self._account_ok(m) for m in conv.messages)
        return True

    def _within(self, at: int) -> bool:
        return self.start <= at < self.end

    def _counted(self, m: Msg) -> bool:
        if m.draft or not self._account_ok(m):
            return False
        return m.author is None or not self.f.users or m.author in self.f.users

    def _collect(self, conv: Conv) -> None:
        if self._within(conv.created_at):
            self.events.append((conv, "created", conv.created_at, None, None))
        for m in conv.messages:
            if self._counted(m) and self._within(m.at):
                kind = "received" if m.author is None else "sent"
                account_type = self.data.accounts.get(m.account) if m.account else None
                self.events.append((conv, kind, m.at, m.author, account_type))
        for at, user in conv.comments:
            if self._within(at) and (not self.f.users or user in self.f.users):
                self.events.append((conv, "comment", at, user, None))
        self.events += [(conv, "post", at, None, None) for at in conv.posts if self._within(at)]
        self._first_response(conv)
        if conv.closed_at is not None and self._within(conv.closed_at):
            self.resolved.append((conv, conv.closed_at - conv.created_at))

    def _first_response(self, conv: Conv) -> None:
        counted = [m for m in conv.messages if self._counted(m)]
        incoming = [m.at for m in counted if m.author is None]
        if not incoming or not self._within(min(incoming)):
            return
        first = min(incoming)
        replies = [m for m in counted if m.author and first <= m.at < self.end]
        if not replies:
            self.unanswered += 1
            return
        at = min(m.at for m in replies)
        responder = min(m.author for m in replies if m.at == at and m.author)
        self.waits.append((conv, at - first, responder))

    def volumes(
        self, events: list[tuple[Conv, str, int, str | None, str | None]]
    ) -> dict[str, int]:
        counts = defaultdict(int, dict.fromkeys(KINDS, 0))
        for _, kind, *_rest in events:
            counts[kind] += 1
        return {
            "conversations_active": len({c.id for c, kind, *_ in events if kind != "created"}),
            "conversations_created": counts["created"],
            "messages_received": counts["received"],
            "messages_sent": counts["sent"],
            "comments": counts["comment"],
            "posts": counts["post"],
        }

    def totals(self) -> dict[str, int]:
        return self.volumes(self.events) | {
            "conversations_answered": len(self.waits),
            "conversations_unanswered": self.unanswered,
            "conversations_resolved": len(self.resolved),
        }

    def first_response_time(self) -> dict[str, Any]:
        return stats([w for _, w, _ in self.waits])

    def resolution_time(self) -> dict[str, Any]:
        return stats([took for _, took in self.resolved])

    def by_team(self, team_id: str) -> dict[str, Any]:
        events = [e for e in self.events if e[0].team == team_id]
        waits = [w for c, w, _ in self.waits if c.team == team_id]
        took = [t for c, t in self.resolved if c.team == team_id]
        return self.volumes(events) | {
            "first_response_time": stats(waits),
            "resolution_time": stats(took),
        }

    def by_label(self, label_id: str) -> dict[str, Any]:
        events = [e for e in self.events if label_id in e[0].labels]
        waits = [w for c, w, _ in self.waits if label_id in c.labels]
        took = [t for c, t in self.resolved if label_id in c.labels]
        return self.volumes(events) | {
            "first_response_time": stats(waits),
            "resolution_time": stats(took),
        }

    def by_user(self, user_id: str) -> dict[str, Any]:
        waits = [w for _, w, who in self.waits if who == user_id]
        return {
            "messages_sent": sum(1 for e in self.events if e[1] == "sent" and e[3] == user_id),
            "comments": sum(1 for e in self.events if e[1] == "comment" and e[3] == user_id),
            "first_responses": len(waits),
            "first_response_time": stats(waits),
        }

    def by_account_type(self) -> list[dict[str, Any]]:
        return [
            {
                "type": t,
                "messages_received": sum(
                    1 for e in self.events if e[1] == "received" and e[4] == t
                ),
                "messages_sent": sum(1 for e in self.events if e[1] == "sent" and e[4] == t),
            }
            for t in ACCOUNT_TYPES
        ]

    def _count(self, kind: str, *, account_type: str) -> int:
        return sum(1 for e in self.events if e[1] == kind and e[4] == account_type)

    def _date(self, at: int) -> str:
        return datetime.fromtimestamp(at, self.zone).date().isoformat()

    def by_date(self) -> dict[str, dict[str, int]]:
        """Only the dates with events or closes; the report lists every date of the period."""
        per_day: dict[str, list[Any]] = defaultdict(list)
        for event in self.events:
            per_day[self._date(event[2])].append(event)
        closes: dict[str, int] = defaultdict(int)
        for conv, _ in self.resolved:
            assert conv.closed_at is not None
            closes[self._date(conv.closed_at)] += 1
        return {
            day: self.volumes(per_day[day]) | {"conversations_resolved": closes[day]}
            for day in {*per_day, *closes}
        }
