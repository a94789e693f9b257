"""Contact search (spec 2.2.3 ``search``): normalised terms kept in ``contact_search_terms``.

Every write of a contact rewrites its terms, each carrying the contact's ``sort_name``. A
query matches a contact when each of its words is a prefix of one of the contact's terms,
tested with a range predicate on the ``(contact_book_id, term, sort_name, contact_id)``
primary key, so search is an index range scan on SQLite and PostgreSQL alike (no
``LIKE '%x%'`` table scan), and a page in ``order=last_name`` is ranked and cut from that
index alone before any contact is read (plans pinned in tests/api/test_contact_search.py and
test_contact_search_pages.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import CompoundSelect, Select, Subquery, delete, intersect, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from missive_server.db.models import Contact, ContactInfo, ContactSearchTerm
from missive_server.db.search_text import TERM_MAX
from missive_server.db.search_text import email_terms as email_terms
from missive_server.db.search_text import normalise as normalise
from missive_server.db.search_text import sort_name as sort_name
from missive_server.db.search_text import words as words
from missive_server.pagination import OffsetPage

_WORD = re.compile(r"\w+")
#: A phone number as people type it, spaces included: "+1 (518) 777-7777".
_PHONE = re.compile(r"(?<![\w@.])\+?\(?\d[\d\s()./-]*(?<=[\d)])(?![\w@])")
#: Queries with more words than this are cut: each word is one more index probe.
MAX_QUERY_WORDS = 8


def phone_terms(number: str) -> set[str]:
    """Digits only, each digit group as written, and the national number after a ``+CC``."""
    digits = re.sub(r"\D", "", number)
    groups = re.findall(r"\d+", number)
    terms = {digits, *groups}
    if number.strip().startswith("+") and len(groups) > 1:
        terms.add("".join(groups[1:]))
    return {t for t in terms if t}


def info_terms(info: ContactInfo) -> set[str]:
    if info.kind == "email" and info.value:
        return email_terms(info.value)
    if info.kind == "phone_number" and info.value:
        return phone_terms(info.value) | words(info.value)
    parts = (info.value, info.name, info.custom_label, info.street, info.extended_address)
    more = (info.city, info.region, info.postal_code, info.po_box, info.country)
    return set().union(*(words(p) for p in (*parts, *more)))


def contact_terms(
    contact: Contact, infos: Iterable[ContactInfo], group_names: Iterable[str]
) -> set[str]:
    names = (contact.first_name, contact.last_name, contact.middle_name, contact.nickname)
    terms = set().union(*(words(n) for n in (*names, contact.notes)))
    for info in infos:
        terms |= info_terms(info)
    for name in group_names:
        terms |= words(name)
    return {t[:TERM_MAX] for t in terms}


def replace_terms(
    session: Session, contact: Contact, infos: Sequence[ContactInfo], group_names: Sequence[str]
) -> None:
    """Deleted contacts keep no terms: they never match a search."""
    session.execute(delete(ContactSearchTerm).where(ContactSearchTerm.contact_id == contact.id))
    if contact.deleted:
        return
    session.add_all(
        ContactSearchTerm(
            contact_book_id=contact.contact_book_id,
            term=term,
            sort_name=contact.sort_name,
            contact_id=contact.id,
        )
        for term in sorted(contact_terms(contact, infos, group_names))
    )


def query_words(search: str) -> list[str]:
    """The words a query must all match, normalised like the stored terms."""
    found: list[str] = []
    text = _PHONE.sub(lambda m: f" {re.sub(r'[^0-9]', '', m.group())} ", normalise(search))
    for chunk in text.split():
        if "@" in chunk[1:]:
            found.append(chunk)
        else:
            found.extend(_WORD.findall(chunk))
    unique = list(dict.fromkeys(w[:TERM_MAX] for w in found if w))
    return unique[:MAX_QUERY_WORDS]


def prefix_upper_bound(prefix: str) -> str:
    """The smallest string greater than every string starting with ``prefix`` (code-point
    order, which is byte order in UTF-8 and so the order of SQLite BINARY and PostgreSQL "C")."""
    last = ord(prefix[-1])
    if last >= 0x10FFFF:
        return prefix + "\U0010ffff"
    return prefix[:-1] + chr(last + 1)


def matching_ids(book_id: str, search: str) -> Subquery | None:
    """Ids of the contacts matching every word: one index range scan per word, intersected.

    Joined to ``contacts`` (rather than ``contacts.id IN (...)``) so both planners start from
    the few matching terms: with ``IN``, SQLite walks the whole book in ``sort_name`` order and
    probes each contact, which costs a full scan even when nothing matches. ``None`` when the
    query has no word (punctuation only): the search is then ignored.
    """
    ranges = _ranges(book_id, search, ContactSearchTerm.contact_id)
    if not ranges:
        return None
    if len(ranges) == 1:
        return ranges[0].distinct().subquery("matches")
    return intersect(*ranges).subquery("matches")


def matching_page(book_id: str, search: str, page: OffsetPage) -> Subquery | None:
    """One page of ``order=last_name`` matches, ``(sort_name, contact_id)``, in page order.

    Ranked and cut from the terms' primary key alone, so a common word (a first name, ~1 % of
    a book) costs a sort of index entries, never a read of every matching contact. Exact only
    where ``contacts`` adds no filter: deleted contacts have no terms (``replace_terms``).
    """
    t = ContactSearchTerm
    ranges = _ranges(book_id, search, t.sort_name, t.contact_id)
    if not ranges:
        return None
    ranked: Select[Any] | CompoundSelect[Any]
    if len(ranges) == 1:
        # GROUP BY rather than DISTINCT: one sort both removes a contact's other terms in the
        # range and ranks the page (DISTINCT then ORDER BY is two on SQLite).
        ranked = ranges[0].group_by(t.sort_name, t.contact_id)
    else:
        ranked = intersect(*ranges)
    ranked = ranked.order_by(t.sort_name, t.contact_id).limit(page.limit).offset(page.offset)
    return ranked.subquery("matches")


def _ranges(
    book_id: str, search: str, *columns: InstrumentedAttribute[str]
) -> list[Select[*tuple[Any, ...]]]:
    """One range scan of the terms' primary key per word of the query."""
    t = ContactSearchTerm
    return [
        select(*columns).where(
            t.contact_book_id == book_id, t.term >= word, t.term < prefix_upper_bound(word)
        )
        for word in query_words(search)
    ]
