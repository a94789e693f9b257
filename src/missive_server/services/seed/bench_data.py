"""The benchmark dataset behind ``missive-server bench-data``: one organization whose owner has N
conversations of K inbound emails each, and a shared contact book of the people who wrote them.

Going through ``receive_email`` would take hours at a million conversations, so rows are written
with bulk Core inserts in batches. They are the rows the real paths write, and
``tests/services/test_bench_data.py`` holds the generator to that: a generated conversation and
contact render through the API exactly as ones made by ``receive_email`` and ``POST
/v1/contacts`` do. What the generator writes (so a change to the inbound path that adds a row
must add it here too):

* per conversation: ``conversations`` (summary columns filled), ``conversation_users`` (the
  owner's inbox), ``conversation_addresses``, and per email ``messages`` and
  ``message_references`` (threaded by In-Reply-To / References), and
  ``conversation_search_terms`` (the words ``search_terms.index_message`` writes);
* per contact: ``contacts``, ``contact_infos`` (an email and a phone number),
  ``contact_memberships`` in an organization group, and ``contact_search_terms`` computed with
  the service's own tokenizer (each with the contact's ``sort_name``).

Conversation *i* is written by contact ``i % contacts``, so people write more than once, as
customers do. Names come from a seeded generator: the same arguments give the same text (ids
differ).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, text, update
from sqlalchemy.orm import Session

from missive_server.db.models import (
    Account,
    AccountUser,
    Contact,
    ContactBook,
    ContactGroup,
    ContactInfo,
    ContactMembership,
    ContactSearchTerm,
    Conversation,
    ConversationAddress,
    ConversationSearchTerm,
    ConversationUser,
    Membership,
    Message,
    MessageReference,
    Organization,
    User,
)
from missive_server.db.search_text import TERM_MAX, message_terms
from missive_server.ids import new_id
from missive_server.services.contacts import contact_search
from missive_server.services.directory import tokens
from missive_server.services.text import preview

TOKEN = "missive_pat-bench-data"
OWNER_EMAIL = "bench@bench.test"
SUPPORT = "support@bench.test"
#: Timestamps start here, 30 s apart per conversation: deterministic and in the past.
START = 1_600_000_000
#: Every generated timestamp is before this (so at most 3.3 million conversations); what a
#: benchmark run writes is stamped with the real time, after it.
GENERATED_BEFORE = 1_700_000_000
MAX_CONVERSATIONS = (GENERATED_BEFORE - START) // 30 - 1
BATCH = 2_000

Rows = dict[str, list[dict[str, Any]]]
#: Called with (done, total) after every batch.
Progress = Callable[[int, int], None]


class DatasetExists(Exception):
    """The database already holds a bench dataset (its token is known)."""


@dataclass(frozen=True)
class Dataset:
    organization_id: str
    user_id: str
    account_id: str
    contact_book_id: str
    token: str = TOKEN


@dataclass(frozen=True)
class Person:
    first: str
    last: str
    email: str
    phone: str
    company: str
    notes: str

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"


def generate(
    engine: Engine,
    *,
    conversations: int,
    messages_per_conversation: int = 2,
    contacts: int | None = None,
    seed: int = 7,
    progress: Progress | None = None,
) -> Dataset:
    """Write the dataset; ``contacts`` defaults to one per ten conversations (at least one)."""
    if conversations < 1 or messages_per_conversation < 1:
        raise ValueError("conversations and messages per conversation must be at least 1")
    if conversations > MAX_CONVERSATIONS:
        raise ValueError(f"at most {MAX_CONVERSATIONS:,} conversations")
    people_count = contacts if contacts is not None else max(1, conversations // 10)
    if people_count < 1:
        raise ValueError("contacts must be at least 1")
    dataset = _setup(engine)
    persons = list(people(people_count, seed))
    report = progress or (lambda _done, _total: None)
    total = people_count + conversations
    rows: Rows = {key: [] for key in ("g", "c", "i", "m", "t")}
    groups: dict[str, str] = {}
    for n, person in enumerate(persons, 1):
        _contact_rows(rows, groups, dataset.contact_book_id, person)
        if n % BATCH == 0 or n == people_count:
            _flush(engine, rows, _CONTACT_TABLES)
            report(n, total)
    rows = {key: [] for key in ("c", "u", "a", "m", "r", "t")}
    for i in range(conversations):
        _conversation_rows(rows, dataset, i, messages_per_conversation, persons[i % people_count])
        if (i + 1) % BATCH == 0 or i + 1 == conversations:
            _flush(engine, rows, _CONVERSATION_TABLES)
            report(people_count + i + 1, total)
    if engine.dialect.name == "postgresql":
        # Fresh statistics, or the planner guesses on millions of rows it has never seen.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))
    return dataset


def _setup(engine: Engine) -> Dataset:
    with Session(engine) as session:
        if session.scalar(select(User.id).where(User.email == OWNER_EMAIL)) is not None:
            raise DatasetExists(OWNER_EMAIL)
        dataset = Dataset(
            organization_id=new_id(),
            user_id=new_id(),
            account_id=new_id(),
            contact_book_id=new_id(),
        )
        org, user = dataset.organization_id, dataset.user_id
        session.execute(insert(Organization).values(id=org, name="Bench", created_at=START))
        session.execute(
            insert(User).values(id=user, email=OWNER_EMAIL, name="Bench Owner", created_at=START)
        )
        session.execute(insert(Membership).values(organization_id=org, user_id=user, role="owner"))
        session.execute(
            insert(Account).values(
                id=dataset.account_id,
                type="email",
                name="Support",
                organization_id=org,
                owner_id=user,
                address=SUPPORT,
                created_at=START,
            )
        )
        session.execute(insert(AccountUser).values(account_id=dataset.account_id, user_id=user))
        session.execute(
            insert(ContactBook).values(
                id=dataset.contact_book_id,
                organization_id=org,
                user_id=user,
                name="Customers",
                share_with_organization=True,
                created_at=START,
            )
        )
        tokens.ensure_token(session, user_id=user, token=TOKEN, now=START)
        session.commit()
    return dataset


def _names(rng: random.Random, count: int, parts: int) -> list[str]:
    syllables = ["ka", "lo", "mi", "ra", "te", "no", "sa", "vi", "de", "lu", "an", "el", "or"]
    names: set[str] = set()
    while len(names) < count:
        names.add("".join(rng.choice(syllables) for _ in range(parts)).title())
    return sorted(names)


def people(count: int, seed: int) -> Iterator[Person]:
    """Synthetic people: 100 first names (one is ~1 % of the book), 2,000 last names, 1,000
    companies; emails and phone numbers unique per person."""
    rng = random.Random(seed)
    firsts, lasts = _names(rng, 100, 3), _names(rng, 2_000, 4)
    companies, vocabulary = _names(rng, 1_000, 3), _names(rng, 400, 3)
    for i in range(count):
        first, last, company = rng.choice(firsts), rng.choice(lasts), rng.choice(companies)
        yield Person(
            first=first,
            last=last,
            email=f"{first}.{last}{i}@{company}.test".lower(),
            phone=f"+1 {rng.randint(200, 999)} {rng.randint(200, 999)}-{i % 10_000:04d}",
            company=company,
            notes=" ".join(rng.sample(vocabulary, 6)),
        )


def _contact_rows(rows: Rows, groups: dict[str, str], book: str, person: Person) -> None:
    cid = new_id()
    sort_name = contact_search.sort_name(person.first, person.last)
    rows["c"].append(
        {
            "id": cid,
            "contact_book_id": book,
            "first_name": person.first,
            "last_name": person.last,
            "notes": person.notes,
            "starred": False,
            "deleted": False,
            "sort_name": sort_name,
            "created_at": START,
            "modified_at": START,
        }
    )
    rows["i"] += [
        {
            "id": new_id(),
            "contact_id": cid,
            "position": 0,
            "kind": "email",
            "label": "work",
            "value": person.email,
            "address": person.email,
        },
        {
            "id": new_id(),
            "contact_id": cid,
            "position": 1,
            "kind": "phone_number",
            "label": "mobile",
            "value": person.phone,
            "address": None,
        },
    ]
    if person.company not in groups:
        groups[person.company] = new_id()
        rows["g"].append(
            {
                "id": groups[person.company],
                "contact_book_id": book,
                "kind": "organization",
                "name": person.company,
                "name_key": person.company.lower(),
                "created_at": START,
            }
        )
    rows["m"].append(
        {
            "id": new_id(),
            "contact_id": cid,
            "group_id": groups[person.company],
            "position": 0,
            "title": "Buyer",
        }
    )
    terms = (
        contact_search.words(f"{person.first} {person.last} {person.notes} {person.company}")
        | contact_search.email_terms(person.email)
        | contact_search.phone_terms(person.phone)
    )
    rows["t"] += [
        {
            "contact_book_id": book,
            "term": term[:TERM_MAX],
            "sort_name": sort_name,
            "contact_id": cid,
        }
        for term in terms
    ]


def _conversation_rows(rows: Rows, dataset: Dataset, i: int, k: int, person: Person) -> None:
    cid = new_id()
    sender = {"name": person.name, "address": person.email}
    domain = person.email.rsplit("@", 1)[1]
    base = START + i * 30
    subject = f"Order {i}: question"
    refs: list[str] = []
    terms: set[str] = set()
    for n in range(k):
        at = base + n * 5
        mid = f"bench-{i}-{n}@{domain}"
        # The newline a received HTML part ends with, as receive_email stores it.
        body = f"<p>Hello, about order {i} (message {n}). Could you check the delivery date?</p>\n"
        message_id = new_id()
        to = [{"name": None, "address": SUPPORT}]
        message_subject = subject if n == 0 else f"Re: {subject}"
        terms |= message_terms(message_subject, body, [sender, *to])
        rows["m"].append(
            {
                "id": message_id,
                "conversation_id": cid,
                "account_id": dataset.account_id,
                "author_id": None,
                "type": "email",
                "draft": False,
                "subject": message_subject,
                "preview": preview(body),
                "body": body,
                "from_field": sender,
                "to_fields": to,
                "cc_fields": [],
                "bcc_fields": [],
                "reply_to_fields": [],
                "email_message_id": f"<{mid}>",
                "in_reply_to": [f"<{refs[-1]}>"] if refs else [],
                "references": [f"<{r}>" for r in refs],
                "external_id": None,
                "delivered_at": at,
                "created_at": at,
                "updated_at": at,
                "send_at": None,
                "auto_followup": False,
                "delivery_status": None,
                "delivery_error": None,
            }
        )
        # What receive_email indexes: the message's own id and every id it refers to.
        rows["r"] += [
            {"message_id": message_id, "reference": reference, "conversation_id": cid}
            for reference in dict.fromkeys([mid, *refs])
        ]
        refs.append(mid)
    last = base + (k - 1) * 5
    rows["c"].append(
        {
            "id": cid,
            "organization_id": dataset.organization_id,
            "team_id": None,
            "team_state": "none",
            "account_id": dataset.account_id,
            "subject": None,
            "color": None,
            "icon_url": None,
            "created_at": base,
            "last_activity_at": last,
            "merged_into_id": None,
            "closed_at": None,
            "latest_message_subject": f"Re: {subject}" if k > 1 else subject,
            "messages_count": k,
            "attachments_count": 0,
            "drafts_count": 0,
            "send_later_messages_count": 0,
            "tasks_count": 0,
            "completed_tasks_count": 0,
            "authors": [sender],
        }
    )
    rows["u"].append(
        {
            "conversation_id": cid,
            "user_id": dataset.user_id,
            "location": "inbox",
            "flagged": False,
            "assigned": False,
            "unassigned": False,
            "snoozed_until": None,
            "added_at": base,
            "assigned_at": None,
            "last_activity_at": last,
        }
    )
    rows["a"] += [
        {"conversation_id": cid, "address": address, "domain": address.rsplit("@", 1)[1]}
        for address in sorted({person.email, SUPPORT})
    ]
    # What search_terms.index_message writes for each received message.
    rows["t"] += [{"term": term, "conversation_id": cid} for term in sorted(terms)]


_CONTACT_TABLES: list[tuple[str, type[Any]]] = [
    ("g", ContactGroup),
    ("c", Contact),
    ("i", ContactInfo),
    ("m", ContactMembership),
    ("t", ContactSearchTerm),
]
_CONVERSATION_TABLES: list[tuple[str, type[Any]]] = [
    ("c", Conversation),
    ("u", ConversationUser),
    ("a", ConversationAddress),
    ("m", Message),
    ("r", MessageReference),
    ("t", ConversationSearchTerm),
]


def _flush(engine: Engine, rows: Rows, tables: list[tuple[str, type[Any]]]) -> None:
    # Parents before children; one transaction per batch keeps memory flat at any size.
    with engine.begin() as connection:
        for key, model in tables:
            if rows[key]:
                connection.execute(insert(model), rows[key])
                rows[key].clear()


def forget_writes(engine: Engine) -> int:
    """Remove what benchmark runs wrote (rows stamped from ``GENERATED_BEFORE`` on) and put the
    generated conversations back at their generated times, so every run measures the dataset as
    generated: a run's posts would otherwise sit at the top of the inbox, hundreds sharing one
    second, and lengthen its first page (ties are appended, spec 1.7). Returns the rows removed.

    Found through indexes only (the owner's ``(user_id, last_activity_at)`` on
    ``conversation_users``, then by conversation and message id).
    """
    cutoff = GENERATED_BEFORE
    removed = 0
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            # Children go first, explicitly; SQLite's own check of each deleted conversation
            # would scan every referencing table whose column has no index (minutes at 1M).
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            with connection.begin():
                removed = _forget_all(connection, cutoff)
        finally:
            if connection.dialect.name == "sqlite":
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
    return removed


def _forget_all(connection: Connection, cutoff: int) -> int:
    u = Conversation.metadata.tables["conversation_users"]
    owner = connection.scalar(select(User.id).where(User.email == OWNER_EMAIL))
    touched = list(
        connection.scalars(
            select(u.c.conversation_id).where(u.c.user_id == owner, u.c.last_activity_at >= cutoff)
        )
    )
    keys = Conversation.metadata.tables["idempotency_keys"]
    removed = connection.execute(delete(keys).where(keys.c.created_at >= cutoff)).rowcount
    return removed + sum(
        _forget(connection, touched[start : start + 500], cutoff)
        for start in range(0, len(touched), 500)
    )


def _forget(connection: Connection, touched: list[str], cutoff: int) -> int:
    tables = Conversation.metadata.tables
    c, m, u = tables["conversations"], tables["messages"], tables["conversation_users"]
    new = list(
        connection.scalars(select(c.c.id).where(c.c.id.in_(touched), c.c.created_at >= cutoff))
    )
    messages = list(
        connection.scalars(
            select(m.c.id).where(
                m.c.conversation_id.in_(touched),
                m.c.conversation_id.in_(new) | (m.c.created_at >= cutoff),
            )
        )
    )
    removed = 0
    # Children first: the tables that refer to messages, then to conversations.
    for table in reversed(Conversation.metadata.sorted_tables):
        if table is m or table is c:
            continue
        if "message_id" in table.c and messages:
            removed += connection.execute(
                delete(table).where(table.c.message_id.in_(messages))
            ).rowcount
        if "conversation_id" in table.c:
            where = table.c.conversation_id.in_(new)
            if "created_at" in table.c:
                where |= table.c.conversation_id.in_(touched) & (table.c.created_at >= cutoff)
            removed += connection.execute(delete(table).where(where)).rowcount
    removed += connection.execute(delete(m).where(m.c.id.in_(messages))).rowcount
    removed += connection.execute(delete(c).where(c.c.id.in_(new))).rowcount
    # Generated conversations: emails 5 s apart, the last one is the latest activity.
    kept = [cid for cid in touched if cid not in set(new)]
    generated_last = c.c.created_at + (c.c.messages_count - 1) * 5
    connection.execute(update(c).where(c.c.id.in_(kept)).values(last_activity_at=generated_last))
    connection.execute(
        update(u)
        .where(u.c.conversation_id.in_(kept))
        .values(
            last_activity_at=select(c.c.last_activity_at)
            .where(c.c.id == u.c.conversation_id)
            .scalar_subquery()
        )
    )
    return removed
